-- ARGV: prefix, workflow_name ('' = any, else '=' .. name), status ('' = any), limit (> 0).
-- Returns {ids, fields} newest first; with both filters, walks the smaller zset.
local P, wf, st, limit = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local ids
if wf ~= '' and st ~= '' then
  local a, b = P .. ':runs:st:' .. st, P .. ':runs:wf:' .. string.sub(wf, 2)
  if redis.call('ZCARD', a) > redis.call('ZCARD', b) then a, b = b, a end
  ids = {}
  local start = 0
  while #ids < limit do
    local chunk = redis.call('ZREVRANGE', a, start, start + 255)
    if #chunk == 0 then break end
    for _, id in ipairs(chunk) do
      if #ids < limit and redis.call('ZSCORE', b, id) then ids[#ids + 1] = id end
    end
    start = start + 256
  end
else
  local key = P .. ':runs'
  if wf ~= '' then key = P .. ':runs:wf:' .. string.sub(wf, 2) end
  if st ~= '' then key = P .. ':runs:st:' .. st end
  ids = redis.call('ZREVRANGE', key, 0, limit - 1)
end
local fields = {}
for k, id in ipairs(ids) do fields[k] = redis.call('HGETALL', P .. ':run:' .. id) end
return {ids, fields}
