-- ARGV: prefix, run_id, owner, lease (µs), statuses (space-separated), dead owners…
-- Returns {code, fields}: 0 unknown, 1 claimed, 2 status not allowed, 3 held.
local P, rid, owner, lease = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local statuses = {}
for s in string.gmatch(ARGV[5], '%S+') do statuses[s] = true end
local dead = set_of(ARGV, 6)
local run = P .. ':run:' .. rid
local h = redis.call('HMGET', run, 'owner', 'lease_until', 'status', 'last_seq')
if not h[4] then return {0} end
if not statuses[h[3]] then return {2, redis.call('HGETALL', run)} end
local now = now_us()
if not free(h[1], h[2], now, dead) then return {3, redis.call('HGETALL', run)} end
take(P, rid, run, owner, lease, now)
return {1, redis.call('HGETALL', run)}
