-- KEYS: run; ARGV: owner. Returns the run's fields, or nil when it does not exist.
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
redis.call('HSET', KEYS[1], 'owner', ARGV[1])
return redis.call('HGETALL', KEYS[1])
