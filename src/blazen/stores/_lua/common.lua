-- Helpers shared by the lease, queue and control scripts (prepended to each).
local FINAL = {completed = true, failed = true, cancelled = true}
local function now_us()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local function us(v) return string.format('%.0f', v) end
local function set_status(P, rid, run, new)
  local h = redis.call('HMGET', run, 'status', 'updated_at')
  if h[1] == new then return end
  if h[1] then redis.call('ZREM', P .. ':runs:st:' .. h[1], rid) end
  redis.call('HSET', run, 'status', new)
  redis.call('ZADD', P .. ':runs:st:' .. new, h[2] or 0, rid)
end
local function signal(P, kind, rid)
  redis.call('XADD', P .. ':signals', 'MAXLEN', '~', 1000, '*', 'k', kind, 'r', rid)
end
local function enqueue(P, rid, run, wf)
  set_status(P, rid, run, 'queued')
  redis.call('HDEL', run, 'owner', 'lease_until')
  redis.call('ZREM', P .. ':leases:' .. wf, rid)
  redis.call('ZADD', P .. ':queue:' .. wf, redis.call('HGET', run, 'created_at') or 0, rid)
  signal(P, 'queued', rid)
end
local function unlease(P, rid, run, wf)
  redis.call('HDEL', run, 'owner', 'lease_until')
  redis.call('ZREM', P .. ':leases:' .. wf, rid)
end
local function take(P, rid, run, owner, lease, now)
  local h = redis.call('HMGET', run, 'workflow_name', 'status')
  local wf = h[1]
  local epoch = redis.call('HINCRBY', run, 'epoch', 1)
  local untl = now + lease
  redis.call('HSET', run, 'owner', owner, 'lease_until', us(untl))
  if h[2] == 'queued' then set_status(P, rid, run, 'running') end
  redis.call('ZREM', P .. ':queue:' .. wf, rid)
  redis.call('ZADD', P .. ':leases:' .. wf, untl, rid)
  return epoch
end
local function free(h_owner, h_until, now, dead)
  return (not h_owner) or (not h_until) or tonumber(h_until) <= now or dead[h_owner] ~= nil
end
local function has_posted(P, rid)
  local box, ev = P .. ':inbox:' .. rid, P .. ':ev:' .. rid
  for _, id in ipairs(redis.call('HKEYS', box)) do
    if redis.call('HGET', ev, id) == 'p' then return true end
    redis.call('HDEL', box, id)
  end
  return false
end
local function set_of(list, from)
  local s = {}
  for k = from, #list do s[list[k]] = true end
  return s
end
