-- ARGV: mode ('create' | 'commit' | 'post'), epoch ('' = any), lease (µs), n_posted, then
-- (event id, packed event) per posted event, then COMMIT's own arguments; KEYS as COMMIT's.
local MODE = table.remove(ARGV, 1)
local EPOCH = table.remove(ARGV, 1)
local LEASE = tonumber(table.remove(ARGV, 1))
local NPOST = tonumber(table.remove(ARGV, 1))
local POSTED = {}
for k = 1, NPOST do POSTED[k] = {table.remove(ARGV, 1), table.remove(ARGV, 1)} end
local RUN, P, RID = KEYS[1], ARGV[1], ARGV[2]
local cur = redis.call('HMGET', RUN, 'owner', 'epoch', 'status', 'lease_until', 'workflow_name',
                       'logged_epoch', 'last_seq')
local epoch = tonumber(cur[2] or '0')
local borrowed = false
if MODE == 'commit' then
  if cur[7] and cur[1] == ARGV[4] and EPOCH ~= '' and tostring(epoch) ~= EPOCH then
    return {1, cur[1]}
  end
elseif MODE == 'post' then
  if not cur[7] then return {2} end
  if FINAL[cur[3]] then return {8} end
  if cur[1] then
    ARGV[4] = cur[1]
  else
    ARGV[4] = '<post>'
    redis.call('HSET', RUN, 'owner', '<post>')
    borrowed = true
  end
else
  if ARGV[4] == '' then epoch = 0 else epoch = 1 end
end
local function __commit()
--@COMMIT

end
local r = __commit()
if borrowed then redis.call('HDEL', RUN, 'owner') end
if r[1] ~= 0 then return r end
local wf = cur[5] or ARGV[7]
local first = r[2] - tonumber(ARGV[9]) + 1
if tostring(epoch) ~= (cur[6] or '') then
  redis.call('RPUSH', P .. ':epochs:' .. RID, first .. ':' .. epoch)
  redis.call('HSET', RUN, 'logged_epoch', epoch)
end
local now = now_us()
if MODE == 'create' then
  redis.call('HSET', RUN, 'epoch', epoch)
  if ARGV[4] == '' then
    redis.call('HDEL', RUN, 'owner')
    if ARGV[5] == 'queued' then
      redis.call('ZADD', P .. ':queue:' .. wf, redis.call('HGET', RUN, 'created_at'), RID)
      signal(P, 'queued', RID)
    end
  else
    redis.call('HSET', RUN, 'lease_until', us(now + LEASE))
    redis.call('ZADD', P .. ':leases:' .. wf, now + LEASE, RID)
  end
elseif MODE == 'post' then
  for _, item in ipairs(POSTED) do redis.call('HSET', P .. ':inbox:' .. RID, item[1], item[2]) end
  local h = redis.call('HMGET', RUN, 'status', 'owner', 'lease_until')
  if h[1] == 'waiting' and free(h[2], h[3], now, {}) then enqueue(P, RID, RUN, wf) end
  signal(P, 'posted', RID)
elseif ARGV[5] ~= '' and FINAL[ARGV[5]] then
  unlease(P, RID, RUN, wf)
  redis.call('ZREM', P .. ':queue:' .. wf, RID)
  signal(P, 'done', RID)
end
return r
