-- ARGV: prefix, run_id, owner, lease (µs). Claims the run whatever its lease.
local P, rid, owner, lease = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local run = P .. ':run:' .. rid
if redis.call('EXISTS', run) == 0 then return false end
take(P, rid, run, owner, lease, now_us())
return redis.call('HGETALL', run)
