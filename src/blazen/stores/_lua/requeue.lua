-- ARGV: prefix, run_id, statuses (space-separated), dead owners…
-- Returns {code, fields}: 0 unknown, 1 queued, 2 status not allowed, 3 held.
local P, rid = ARGV[1], ARGV[2]
local statuses = {}
for s in string.gmatch(ARGV[3], '%S+') do statuses[s] = true end
local dead = set_of(ARGV, 4)
local run = P .. ':run:' .. rid
local h = redis.call('HMGET', run, 'owner', 'lease_until', 'status', 'workflow_name')
if not h[3] then return {0} end
if not statuses[h[3]] then return {2, redis.call('HGETALL', run)} end
if not free(h[1], h[2], now_us(), dead) then return {3, redis.call('HGETALL', run)} end
enqueue(P, rid, run, h[4])
return {1, redis.call('HGETALL', run)}
