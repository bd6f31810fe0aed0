-- ARGV: prefix, run_id, owner, epoch, requeue ('1'/'0'). Returns 1 when the lease ended.
local P, rid, owner, epoch = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local run = P .. ':run:' .. rid
local h = redis.call('HMGET', run, 'owner', 'epoch', 'status', 'workflow_name')
if h[1] ~= owner or (h[2] or '0') ~= epoch then return 0 end
if not FINAL[h[3]] and (ARGV[5] == '1' or (h[3] == 'waiting' and has_posted(P, rid))) then
  enqueue(P, rid, run, h[4])
else
  unlease(P, rid, run, h[4])
end
return 1
