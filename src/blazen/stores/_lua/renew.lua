-- ARGV: prefix, lease (µs), then (run_id, owner, epoch)*. Returns {lost, cancel, inbox}.
local P, lease = ARGV[1], tonumber(ARGV[2])
local now = now_us()
local lost, cancel, inbox = {}, {}, {}
for i = 3, #ARGV, 3 do
  local rid, owner, epoch = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local run = P .. ':run:' .. rid
  local h = redis.call('HMGET', run, 'owner', 'epoch', 'cancel_requested', 'workflow_name')
  if h[1] ~= owner or (h[2] or '0') ~= epoch then
    lost[#lost + 1] = rid
  else
    redis.call('HSET', run, 'lease_until', us(now + lease))
    redis.call('ZADD', P .. ':leases:' .. h[4], now + lease, rid)
    if h[3] == '1' then cancel[#cancel + 1] = rid end
    if has_posted(P, rid) then inbox[#inbox + 1] = rid end
  end
end
return {lost, cancel, inbox}
