-- ARGV: prefix, run_id. Drops what the lease layer keeps about a run (before DELETE).
local P, rid = ARGV[1], ARGV[2]
local wf = redis.call('HGET', P .. ':run:' .. rid, 'workflow_name')
if wf then
  redis.call('ZREM', P .. ':queue:' .. wf, rid)
  redis.call('ZREM', P .. ':leases:' .. wf, rid)
end
redis.call('UNLINK', P .. ':epochs:' .. rid, P .. ':inbox:' .. rid)
return 0
