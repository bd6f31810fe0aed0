-- ARGV: prefix, run_id. Returns {code, fields}: 0 unknown, 1 flagged, 2 finished.
local P, rid = ARGV[1], ARGV[2]
local run = P .. ':run:' .. rid
local status = redis.call('HGET', run, 'status')
if not status then return {0} end
if FINAL[status] then return {2, redis.call('HGETALL', run)} end
redis.call('HSET', run, 'cancel_requested', '1')
signal(P, 'cancel', rid)
return {1, redis.call('HGETALL', run)}
