-- ARGV: prefix, host prefix, workflow names… Returns the owners (starting with the host
-- prefix) of live leases on these workflows' unfinished runs.
local P, host = ARGV[1], ARGV[2]
local now = now_us()
local out, seen = {}, {}
for k = 3, #ARGV do
  local live = redis.call('ZRANGEBYSCORE', P .. ':leases:' .. ARGV[k], '(' .. now, '+inf')
  for _, rid in ipairs(live) do
    local o = redis.call('HGET', P .. ':run:' .. rid, 'owner')
    if o and not seen[o] and string.sub(o, 1, #host) == host then
      seen[o] = true
      out[#out + 1] = o
    end
  end
end
return out
