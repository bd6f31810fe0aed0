-- KEYS: run, log, ev, rblobs, refs, runs; ARGV: prefix, run_id
local run, log, ev, rblobs, refs, runs = unpack(KEYS)
local P, rid = ARGV[1], ARGV[2]
local head = redis.call('HMGET', run, 'workflow_name', 'status')
if not head[1] then return 2 end
for _, h in ipairs(redis.call('SMEMBERS', rblobs)) do
  if redis.call('HINCRBY', refs, h, -1) <= 0 then
    redis.call('HDEL', refs, h)
    redis.call('UNLINK', P .. ':blob:' .. h)
  end
end
redis.call('UNLINK', run, log, ev, rblobs)
redis.call('ZREM', runs, rid)
redis.call('ZREM', P .. ':runs:wf:' .. head[1], rid)
redis.call('ZREM', P .. ':runs:st:' .. head[2], rid)
return 0
