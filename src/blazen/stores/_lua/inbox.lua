-- ARGV: prefix, run_id. Returns {exists, id, packed, id, packed…} of unconsumed posted events.
local P, rid = ARGV[1], ARGV[2]
if redis.call('EXISTS', P .. ':run:' .. rid) == 0 then return {0} end
local out = {1}
has_posted(P, rid)
local kv = redis.call('HGETALL', P .. ':inbox:' .. rid)
for k = 1, #kv, 2 do
  if redis.call('HGET', P .. ':ev:' .. rid, kv[k]) == 'p' then
    out[#out + 1] = kv[k]
    out[#out + 1] = kv[k + 1]
  end
end
return out
