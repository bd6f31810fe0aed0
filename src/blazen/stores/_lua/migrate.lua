-- ARGV: prefix. Schema 1 -> 2: owned unfinished runs join their workflow's lease set
-- (expired: their owner never renewed) with epoch 1.
local P = ARGV[1]
for _, status in ipairs({'running', 'waiting', 'paused'}) do
  for _, rid in ipairs(redis.call('ZRANGE', P .. ':runs:st:' .. status, 0, -1)) do
    local run = P .. ':run:' .. rid
    local h = redis.call('HMGET', run, 'owner', 'workflow_name', 'epoch')
    if h[1] and not h[3] then
      redis.call('HSET', run, 'epoch', 1, 'lease_until', 0, 'logged_epoch', 0)
      if status ~= 'paused' then redis.call('ZADD', P .. ':leases:' .. h[2], 0, rid) end
    end
  end
end
redis.call('HSET', P .. ':meta', 'schema_version', 2)
return 0
