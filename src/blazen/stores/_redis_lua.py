"""The Redis store's Lua scripts: each one runs atomically on the server (``EVALSHA``).

Every key of a store starts with the same hash tag (``{name}:``), so a script may touch
keys it builds from the prefix (``ARGV[1]``) as well as those it is given: they all live in
one slot. A write script validates everything before its first write (Lua cannot roll back)
and answers a reply code instead of raising, which the client maps to a ``StoreError``.
"""

from __future__ import annotations

__all__ = [
    "CLAIM",
    "COMMIT",
    "DELETE",
    "INIT",
    "LIST",
    "OK",
    "R_CONFLICT",
    "R_DUPLICATE",
    "R_EXISTS",
    "R_MISSING_BLOBS",
    "R_NOT_PENDING",
    "R_UNKNOWN",
    "SCRIPTS",
]

OK, R_CONFLICT, R_UNKNOWN, R_NOT_PENDING, R_DUPLICATE, R_MISSING_BLOBS, R_EXISTS = range(7)

# KEYS: run, log, ev, rblobs, refs, runs, clock
# ARGV: prefix, run_id, mode ('create'|'commit'), owner, status ('' = keep), error ('' = keep,
#   else '=' .. text), workflow_name, metadata, n, then per commit: entry, n_consumed, ids…,
#   n_emitted, ids…; then n_blobs, then per blob: sha256 hex, how ('d': the payload follows,
#   'k': expected on the server, 's': staged under the key that follows), payload or key.
COMMIT = r"""
local run, log, ev, rblobs, refs, runs, clock = unpack(KEYS)
local P, rid, create, owner = ARGV[1], ARGV[2], ARGV[3] == 'create', ARGV[4]
local head = redis.call('HMGET', run, 'owner', 'last_seq', 'workflow_name', 'status')
local last, wf, old = -1, ARGV[7], head[4]
if create then
  if head[2] then return {6} end
else
  if not head[2] then return {2} end
  if head[1] ~= owner then return {1, head[1] or ''} end
  last, wf = tonumber(head[2]), head[3]
end
local n, i = tonumber(ARGV[9]), 10
if n == 0 and not create then return {0, last} end
local seen, entries = {}, {}
for k = 1, n do
  local seq = last + k
  entries[k] = ARGV[i]
  local count = tonumber(ARGV[i + 1])
  i = i + 2
  for j = 1, count do
    local id = ARGV[i]
    i = i + 1
    local s = seen[id]
    if s == 'c' or (s == nil and redis.call('HGET', ev, id) ~= 'p') then
      return {3, seq, id}
    end
    seen[id] = 'c'
  end
  count = tonumber(ARGV[i])
  i = i + 1
  for j = 1, count do
    local id = ARGV[i]
    i = i + 1
    if seen[id] ~= nil or redis.call('HEXISTS', ev, id) == 1 then return {4, seq, id} end
    seen[id] = 'p'
  end
end
local nblobs, first, missing = tonumber(ARGV[i]), i + 1, {}
for j = first, first + 3 * nblobs - 1, 3 do
  local how = ARGV[j + 1]
  if how ~= 'd' and redis.call('EXISTS', P .. ':blob:' .. ARGV[j]) == 0
     and (how ~= 's' or redis.call('EXISTS', ARGV[j + 2]) == 0) then
    missing[#missing + 1] = ARGV[j]
  end
end
if #missing > 0 then return {5, missing} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local prev = tonumber(redis.call('GET', clock) or '0')
if now <= prev then now = prev + 1 end
local stamp = string.format('%.0f', now)
redis.call('SET', clock, stamp)
for j = first, first + 3 * nblobs - 1, 3 do
  local h, how, value = ARGV[j], ARGV[j + 1], ARGV[j + 2]
  local blob = P .. ':blob:' .. h
  if how == 'd' then
    redis.call('SET', blob, value, 'NX')
  elseif how == 's' then
    if redis.call('EXISTS', blob) == 1 then
      redis.call('DEL', value)
    else
      redis.call('RENAME', value, blob)
      redis.call('PERSIST', blob)
    end
  end
  if redis.call('SADD', rblobs, h) == 1 then redis.call('HINCRBY', refs, h, 1) end
end
local packed = struct.pack('>d', now)
for k = 1, n do redis.call('RPUSH', log, packed .. entries[k]) end
for id, state in pairs(seen) do redis.call('HSET', ev, id, state) end
local new = string.format('%d', last + n)
redis.call('HSET', run, 'last_seq', new, 'updated_at', stamp)
local status = old
if create then
  status = ARGV[5]
  redis.call('HSET', run, 'created_at', stamp, 'workflow_name', wf, 'owner', owner,
             'metadata', ARGV[8], 'status', status)
elseif ARGV[5] ~= '' then
  status = ARGV[5]
  redis.call('HSET', run, 'status', status)
end
if ARGV[6] ~= '' then redis.call('HSET', run, 'error', string.sub(ARGV[6], 2)) end
if old and old ~= status then redis.call('ZREM', P .. ':runs:st:' .. old, rid) end
redis.call('ZADD', runs, stamp, rid)
redis.call('ZADD', P .. ':runs:wf:' .. wf, stamp, rid)
redis.call('ZADD', P .. ':runs:st:' .. status, stamp, rid)
return {0, last + n}
"""

# KEYS: run, log, ev, rblobs, refs, runs; ARGV: prefix, run_id
DELETE = r"""
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
"""

# KEYS: run; ARGV: owner. Returns the run's fields, or nil when it does not exist.
CLAIM = r"""
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
redis.call('HSET', KEYS[1], 'owner', ARGV[1])
return redis.call('HGETALL', KEYS[1])
"""

# ARGV: prefix, workflow_name ('' = any, else '=' .. name), status ('' = any), limit (> 0).
# Returns {ids, fields} newest first; with both filters, walks the smaller zset.
LIST = r"""
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
"""

# KEYS: meta; ARGV: application, schema_version. Writes the marker if absent; returns it.
INIT = r"""
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'application', ARGV[1], 'schema_version', ARGV[2])
end
return redis.call('HGETALL', KEYS[1])
"""

SCRIPTS = {"COMMIT": COMMIT, "DELETE": DELETE, "CLAIM": CLAIM, "LIST": LIST, "INIT": INIT}
"""Every script by the name the store calls it (registered on each loop's client)."""
