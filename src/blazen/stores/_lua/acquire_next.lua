-- ARGV: prefix, owner, lease (µs), host prefix of owners to report, n workflows, names…,
-- dead owners… Returns {1, run_id, fields} or {0, µs until the earliest lease ends or '',
-- owners of this host holding leases}.
local P, owner, lease, host, nwf = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
local dead = set_of(ARGV, 6 + nwf)
local now = now_us()
for k = 6, 5 + nwf do
  local leases = P .. ':leases:' .. ARGV[k]
  while true do
    local q = redis.call('ZRANGEBYSCORE', leases, '-inf', now, 'LIMIT', 0, 1)
    if #q == 0 then break end
    local rid = q[1]
    local run = P .. ':run:' .. rid
    local h = redis.call('HMGET', run, 'status', 'owner', 'lease_until')
    if (h[1] == 'running' or h[1] == 'waiting') and h[2] and free(h[2], h[3], now, dead) then
      take(P, rid, run, owner, lease, now)
      return {1, rid, redis.call('HGETALL', run)}
    end
    if h[2] and h[3] and not FINAL[h[1]] then
      redis.call('ZADD', leases, tonumber(h[3]), rid)
    else
      redis.call('ZREM', leases, rid)
    end
  end
  if next(dead) ~= nil then
    for _, rid in ipairs(redis.call('ZRANGE', leases, 0, -1)) do
      local run = P .. ':run:' .. rid
      local h = redis.call('HMGET', run, 'status', 'owner')
      if (h[1] == 'running' or h[1] == 'waiting') and h[2] and dead[h[2]] then
        take(P, rid, run, owner, lease, now)
        return {1, rid, redis.call('HGETALL', run)}
      end
    end
  end
end
for k = 6, 5 + nwf do
  local queue = P .. ':queue:' .. ARGV[k]
  while true do
    local q = redis.call('ZRANGE', queue, 0, 0)
    if #q == 0 then break end
    local rid = q[1]
    local run = P .. ':run:' .. rid
    local h = redis.call('HMGET', run, 'status', 'owner', 'lease_until')
    if h[1] == 'queued' and free(h[2], h[3], now, dead) then
      take(P, rid, run, owner, lease, now)
      return {1, rid, redis.call('HGETALL', run)}
    end
    redis.call('ZREM', queue, rid)
  end
end
local earliest, holders, seen = nil, {}, {}
for k = 6, 5 + nwf do
  local leases = P .. ':leases:' .. ARGV[k]
  local first = redis.call('ZRANGE', leases, 0, 0, 'WITHSCORES')
  if #first > 0 and (earliest == nil or tonumber(first[2]) < earliest) then
    earliest = tonumber(first[2])
  end
  for _, rid in ipairs(redis.call('ZRANGE', leases, 0, -1)) do
    local o = redis.call('HGET', P .. ':run:' .. rid, 'owner')
    if o and not seen[o] and string.sub(o, 1, #host) == host then
      seen[o] = true
      holders[#holders + 1] = o
    end
  end
end
if earliest == nil then return {0, '', holders} end
return {0, us(earliest - now), holders}
