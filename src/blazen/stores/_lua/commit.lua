-- KEYS: run, log, ev, rblobs, refs, runs, clock
-- ARGV: prefix, run_id, mode ('create'|'commit'), owner, status ('' = keep), error ('' = keep,
--   else '=' .. text), workflow_name, metadata, n, then per commit: entry, n_consumed, ids…,
--   n_emitted, ids…; then n_blobs, then per blob: sha256 hex, how ('d': the payload follows,
--   'k': expected on the server, 's': staged under the key that follows), payload or key.
local run, log, ev, rblobs, refs, runs, clock = unpack(KEYS)
local P, rid, create, owner = ARGV[1], ARGV[2], ARGV[3] == 'create', ARGV[4]
local head = redis.call('HMGET', run, 'owner', 'last_seq', 'workflow_name', 'status')
local last, wf, old = -1, ARGV[7], head[4]
if create then
  if head[2] then return {6} end
else
  if not head[2] then return {2} end
  if head[1] ~= owner then return {1, head[1] or ''} end
  last, wf = tonumber(head[2]), head[3]
end
local n, i = tonumber(ARGV[9]), 10
if n == 0 and not create then return {0, last} end
local seen, entries = {}, {}
for k = 1, n do
  local seq = last + k
  entries[k] = ARGV[i]
  local count = tonumber(ARGV[i + 1])
  i = i + 2
  for j = 1, count do
    local id = ARGV[i]
    i = i + 1
    local s = seen[id]
    if s == 'c' or (s == nil and redis.call('HGET', ev, id) ~= 'p') then
      return {3, seq, id}
    end
    seen[id] = 'c'
  end
  count = tonumber(ARGV[i])
  i = i + 1
  for j = 1, count do
    local id = ARGV[i]
    i = i + 1
    if seen[id] ~= nil or redis.call('HEXISTS', ev, id) == 1 then return {4, seq, id} end
    seen[id] = 'p'
  end
end
local nblobs, first, missing = tonumber(ARGV[i]), i + 1, {}
for j = first, first + 3 * nblobs - 1, 3 do
  local how = ARGV[j + 1]
  if how ~= 'd' and redis.call('EXISTS', P .. ':blob:' .. ARGV[j]) == 0
     and (how ~= 's' or redis.call('EXISTS', ARGV[j + 2]) == 0) then
    missing[#missing + 1] = ARGV[j]
  end
end
if #missing > 0 then return {5, missing} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local prev = tonumber(redis.call('GET', clock) or '0')
if now <= prev then now = prev + 1 end
local stamp = string.format('%.0f', now)
redis.call('SET', clock, stamp)
for j = first, first + 3 * nblobs - 1, 3 do
  local h, how, value = ARGV[j], ARGV[j + 1], ARGV[j + 2]
  local blob = P .. ':blob:' .. h
  if how == 'd' then
    redis.call('SET', blob, value, 'NX')
  elseif how == 's' then
    if redis.call('EXISTS', blob) == 1 then
      redis.call('DEL', value)
    else
      redis.call('RENAME', value, blob)
      redis.call('PERSIST', blob)
    end
  end
  if redis.call('SADD', rblobs, h) == 1 then redis.call('HINCRBY', refs, h, 1) end
end
local packed = struct.pack('>d', now)
for k = 1, n do redis.call('RPUSH', log, packed .. entries[k]) end
for id, state in pairs(seen) do redis.call('HSET', ev, id, state) end
local new = string.format('%d', last + n)
redis.call('HSET', run, 'last_seq', new, 'updated_at', stamp)
local status = old
if create then
  status = ARGV[5]
  redis.call('HSET', run, 'created_at', stamp, 'workflow_name', wf, 'owner', owner,
             'metadata', ARGV[8], 'status', status)
elseif ARGV[5] ~= '' then
  status = ARGV[5]
  redis.call('HSET', run, 'status', status)
end
if ARGV[6] ~= '' then redis.call('HSET', run, 'error', string.sub(ARGV[6], 2)) end
if old and old ~= status then redis.call('ZREM', P .. ':runs:st:' .. old, rid) end
redis.call('ZADD', runs, stamp, rid)
redis.call('ZADD', P .. ':runs:wf:' .. wf, stamp, rid)
redis.call('ZADD', P .. ':runs:st:' .. status, stamp, rid)
return {0, last + n}
