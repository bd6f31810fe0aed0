-- KEYS: meta; ARGV: application, schema_version. Writes the marker if absent; returns it.
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'application', ARGV[1], 'schema_version', ARGV[2])
end
return redis.call('HGETALL', KEYS[1])
