"""The Lua scripts of the Redis store's leases, queue and control (atomic on the server).

Key layout and rules: see ``_redis_lease.py`` and docs/stores.md. ``WRITE`` wraps the store's
``COMMIT`` script (its text unchanged) in a function: a prelude pops its own arguments and
checks the fencing epoch, a postlude applies the lease rules.
"""

from __future__ import annotations

from blazen.stores._redis_lua import COMMIT

__all__ = ["MIGRATE", "R_FINISHED", "SCRIPTS"]

R_FINISHED = 8
"""``WRITE`` in ``post`` mode: the run is finished."""

_COMMON = r"""
local FINAL = {completed = true, failed = true, cancelled = true}
local function now_us()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local function us(v) return string.format('%.0f', v) end
local function set_status(P, rid, run, new)
  local h = redis.call('HMGET', run, 'status', 'updated_at')
  if h[1] == new then return end
  if h[1] then redis.call('ZREM', P .. ':runs:st:' .. h[1], rid) end
  redis.call('HSET', run, 'status', new)
  redis.call('ZADD', P .. ':runs:st:' .. new, h[2] or 0, rid)
end
local function signal(P, kind, rid)
  redis.call('XADD', P .. ':signals', 'MAXLEN', '~', 1000, '*', 'k', kind, 'r', rid)
end
local function enqueue(P, rid, run, wf)
  set_status(P, rid, run, 'queued')
  redis.call('HDEL', run, 'owner', 'lease_until')
  redis.call('ZREM', P .. ':leases:' .. wf, rid)
  redis.call('ZADD', P .. ':queue:' .. wf, redis.call('HGET', run, 'created_at') or 0, rid)
  signal(P, 'queued', rid)
end
local function unlease(P, rid, run, wf)
  redis.call('HDEL', run, 'owner', 'lease_until')
  redis.call('ZREM', P .. ':leases:' .. wf, rid)
end
local function take(P, rid, run, owner, lease, now)
  local h = redis.call('HMGET', run, 'workflow_name', 'status')
  local wf = h[1]
  local epoch = redis.call('HINCRBY', run, 'epoch', 1)
  local untl = now + lease
  redis.call('HSET', run, 'owner', owner, 'lease_until', us(untl))
  if h[2] == 'queued' then set_status(P, rid, run, 'running') end
  redis.call('ZREM', P .. ':queue:' .. wf, rid)
  redis.call('ZADD', P .. ':leases:' .. wf, untl, rid)
  return epoch
end
local function free(h_owner, h_until, now, dead)
  return (not h_owner) or (not h_until) or tonumber(h_until) <= now or dead[h_owner] ~= nil
end
local function has_posted(P, rid)
  local box, ev = P .. ':inbox:' .. rid, P .. ':ev:' .. rid
  for _, id in ipairs(redis.call('HKEYS', box)) do
    if redis.call('HGET', ev, id) == 'p' then return true end
    redis.call('HDEL', box, id)
  end
  return false
end
local function set_of(list, from)
  local s = {}
  for k = from, #list do s[list[k]] = true end
  return s
end
"""

# ARGV: mode ('create' | 'commit' | 'post'), epoch ('' = any), lease (µs), n_posted, then
# (event id, packed event) per posted event, then COMMIT's own arguments; KEYS as COMMIT's.
WRITE = (
    _COMMON
    + r"""
local MODE = table.remove(ARGV, 1)
local EPOCH = table.remove(ARGV, 1)
local LEASE = tonumber(table.remove(ARGV, 1))
local NPOST = tonumber(table.remove(ARGV, 1))
local POSTED = {}
for k = 1, NPOST do POSTED[k] = {table.remove(ARGV, 1), table.remove(ARGV, 1)} end
local RUN, P, RID = KEYS[1], ARGV[1], ARGV[2]
local cur = redis.call('HMGET', RUN, 'owner', 'epoch', 'status', 'lease_until', 'workflow_name',
                       'logged_epoch', 'last_seq')
local epoch = tonumber(cur[2] or '0')
local borrowed = false
if MODE == 'commit' then
  if cur[7] and cur[1] == ARGV[4] and EPOCH ~= '' and tostring(epoch) ~= EPOCH then
    return {1, cur[1]}
  end
elseif MODE == 'post' then
  if not cur[7] then return {2} end
  if FINAL[cur[3]] then return {8} end
  if cur[1] then
    ARGV[4] = cur[1]
  else
    ARGV[4] = '<post>'
    redis.call('HSET', RUN, 'owner', '<post>')
    borrowed = true
  end
else
  if ARGV[4] == '' then epoch = 0 else epoch = 1 end
end
local function __commit()
"""
    + COMMIT
    + r"""
end
local r = __commit()
if borrowed then redis.call('HDEL', RUN, 'owner') end
if r[1] ~= 0 then return r end
local wf = cur[5] or ARGV[7]
local first = r[2] - tonumber(ARGV[9]) + 1
if tostring(epoch) ~= (cur[6] or '') then
  redis.call('RPUSH', P .. ':epochs:' .. RID, first .. ':' .. epoch)
  redis.call('HSET', RUN, 'logged_epoch', epoch)
end
local now = now_us()
if MODE == 'create' then
  redis.call('HSET', RUN, 'epoch', epoch)
  if ARGV[4] == '' then
    redis.call('HDEL', RUN, 'owner')
    if ARGV[5] == 'queued' then
      redis.call('ZADD', P .. ':queue:' .. wf, redis.call('HGET', RUN, 'created_at'), RID)
      signal(P, 'queued', RID)
    end
  else
    redis.call('HSET', RUN, 'lease_until', us(now + LEASE))
    redis.call('ZADD', P .. ':leases:' .. wf, now + LEASE, RID)
  end
elseif MODE == 'post' then
  for _, item in ipairs(POSTED) do redis.call('HSET', P .. ':inbox:' .. RID, item[1], item[2]) end
  local h = redis.call('HMGET', RUN, 'status', 'owner', 'lease_until')
  if h[1] == 'waiting' and free(h[2], h[3], now, {}) then enqueue(P, RID, RUN, wf) end
  signal(P, 'posted', RID)
elseif ARGV[5] ~= '' and FINAL[ARGV[5]] then
  unlease(P, RID, RUN, wf)
  redis.call('ZREM', P .. ':queue:' .. wf, RID)
  signal(P, 'done', RID)
end
return r
"""
)

# ARGV: prefix, run_id, owner, lease (µs), statuses (space-separated), dead owners…
# Returns {code, fields}: 0 unknown, 1 claimed, 2 status not allowed, 3 held.
ACQUIRE = (
    _COMMON
    + r"""
local P, rid, owner, lease = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local statuses = {}
for s in string.gmatch(ARGV[5], '%S+') do statuses[s] = true end
local dead = set_of(ARGV, 6)
local run = P .. ':run:' .. rid
local h = redis.call('HMGET', run, 'owner', 'lease_until', 'status', 'last_seq')
if not h[4] then return {0} end
if not statuses[h[3]] then return {2, redis.call('HGETALL', run)} end
local now = now_us()
if not free(h[1], h[2], now, dead) then return {3, redis.call('HGETALL', run)} end
take(P, rid, run, owner, lease, now)
return {1, redis.call('HGETALL', run)}
"""
)

# ARGV: prefix, owner, lease (µs), host prefix of owners to report, n workflows, names…,
# dead owners… Returns {1, run_id, fields} or {0, µs until the earliest lease ends or '',
# owners of this host holding leases}.
ACQUIRE_NEXT = (
    _COMMON
    + r"""
local P, owner, lease, host, nwf = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
local dead = set_of(ARGV, 6 + nwf)
local now = now_us()
for k = 6, 5 + nwf do
  local leases = P .. ':leases:' .. ARGV[k]
  while true do
    local q = redis.call('ZRANGEBYSCORE', leases, '-inf', now, 'LIMIT', 0, 1)
    if #q == 0 then break end
    local rid = q[1]
    local run = P .. ':run:' .. rid
    local h = redis.call('HMGET', run, 'status', 'owner', 'lease_until')
    if (h[1] == 'running' or h[1] == 'waiting') and h[2] and free(h[2], h[3], now, dead) then
      take(P, rid, run, owner, lease, now)
      return {1, rid, redis.call('HGETALL', run)}
    end
    if h[2] and h[3] and not FINAL[h[1]] then
      redis.call('ZADD', leases, tonumber(h[3]), rid)
    else
      redis.call('ZREM', leases, rid)
    end
  end
  if next(dead) ~= nil then
    for _, rid in ipairs(redis.call('ZRANGE', leases, 0, -1)) do
      local run = P .. ':run:' .. rid
      local h = redis.call('HMGET', run, 'status', 'owner')
      if (h[1] == 'running' or h[1] == 'waiting') and h[2] and dead[h[2]] then
        take(P, rid, run, owner, lease, now)
        return {1, rid, redis.call('HGETALL', run)}
      end
    end
  end
end
for k = 6, 5 + nwf do
  local queue = P .. ':queue:' .. ARGV[k]
  while true do
    local q = redis.call('ZRANGE', queue, 0, 0)
    if #q == 0 then break end
    local rid = q[1]
    local run = P .. ':run:' .. rid
    local h = redis.call('HMGET', run, 'status', 'owner', 'lease_until')
    if h[1] == 'queued' and free(h[2], h[3], now, dead) then
      take(P, rid, run, owner, lease, now)
      return {1, rid, redis.call('HGETALL', run)}
    end
    redis.call('ZREM', queue, rid)
  end
end
local earliest, holders, seen = nil, {}, {}
for k = 6, 5 + nwf do
  local leases = P .. ':leases:' .. ARGV[k]
  local first = redis.call('ZRANGE', leases, 0, 0, 'WITHSCORES')
  if #first > 0 and (earliest == nil or tonumber(first[2]) < earliest) then
    earliest = tonumber(first[2])
  end
  for _, rid in ipairs(redis.call('ZRANGE', leases, 0, -1)) do
    local o = redis.call('HGET', P .. ':run:' .. rid, 'owner')
    if o and not seen[o] and string.sub(o, 1, #host) == host then
      seen[o] = true
      holders[#holders + 1] = o
    end
  end
end
if earliest == nil then return {0, '', holders} end
return {0, us(earliest - now), holders}
"""
)

# ARGV: prefix, host prefix, workflow names… Returns the owners (starting with the host
# prefix) of live leases on these workflows' unfinished runs.
HOLDERS = (
    _COMMON
    + r"""
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
"""
)

# ARGV: prefix, lease (µs), then (run_id, owner, epoch)*. Returns {lost, cancel, inbox}.
RENEW = (
    _COMMON
    + r"""
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
"""
)

# ARGV: prefix, run_id, owner, epoch, requeue ('1'/'0'). Returns 1 when the lease ended.
END_LEASE = (
    _COMMON
    + r"""
local P, rid, owner, epoch = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local run = P .. ':run:' .. rid
local h = redis.call('HMGET', run, 'owner', 'epoch', 'status', 'workflow_name')
if h[1] ~= owner or (h[2] or '0') ~= epoch then return 0 end
if not FINAL[h[3]] and (ARGV[5] == '1' or (h[3] == 'waiting' and has_posted(P, rid))) then
  enqueue(P, rid, run, h[4])
else
  unlease(P, rid, run, h[4])
end
return 1
"""
)

# ARGV: prefix, run_id. Returns {code, fields}: 0 unknown, 1 flagged, 2 finished.
FLAG_CANCEL = (
    _COMMON
    + r"""
local P, rid = ARGV[1], ARGV[2]
local run = P .. ':run:' .. rid
local status = redis.call('HGET', run, 'status')
if not status then return {0} end
if FINAL[status] then return {2, redis.call('HGETALL', run)} end
redis.call('HSET', run, 'cancel_requested', '1')
signal(P, 'cancel', rid)
return {1, redis.call('HGETALL', run)}
"""
)

# ARGV: prefix, run_id, statuses (space-separated), dead owners…
# Returns {code, fields}: 0 unknown, 1 queued, 2 status not allowed, 3 held.
REQUEUE = (
    _COMMON
    + r"""
local P, rid = ARGV[1], ARGV[2]
local statuses = {}
for s in string.gmatch(ARGV[3], '%S+') do statuses[s] = true end
local dead = set_of(ARGV, 4)
local run = P .. ':run:' .. rid
local h = redis.call('HMGET', run, 'owner', 'lease_until', 'status', 'workflow_name')
if not h[3] then return {0} end
if not statuses[h[3]] then return {2, redis.call('HGETALL', run)} end
if not free(h[1], h[2], now_us(), dead) then return {3, redis.call('HGETALL', run)} end
enqueue(P, rid, run, h[4])
return {1, redis.call('HGETALL', run)}
"""
)

# ARGV: prefix, run_id. Returns {exists, id, packed, id, packed…} of unconsumed posted events.
INBOX = (
    _COMMON
    + r"""
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
"""
)

# ARGV: prefix, run_id, owner, lease (µs). Claims the run whatever its lease.
CLAIM = (
    _COMMON
    + r"""
local P, rid, owner, lease = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local run = P .. ':run:' .. rid
if redis.call('EXISTS', run) == 0 then return false end
take(P, rid, run, owner, lease, now_us())
return redis.call('HGETALL', run)
"""
)

# ARGV: prefix, run_id. Drops what the lease layer keeps about a run (before DELETE).
FORGET = r"""
local P, rid = ARGV[1], ARGV[2]
local wf = redis.call('HGET', P .. ':run:' .. rid, 'workflow_name')
if wf then
  redis.call('ZREM', P .. ':queue:' .. wf, rid)
  redis.call('ZREM', P .. ':leases:' .. wf, rid)
end
redis.call('UNLINK', P .. ':epochs:' .. rid, P .. ':inbox:' .. rid)
return 0
"""

# ARGV: prefix. Schema 1 -> 2: owned unfinished runs join their workflow's lease set
# (expired: their owner never renewed) with epoch 1.
MIGRATE = r"""
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
"""

SCRIPTS = {
    "WRITE": WRITE,
    "CLAIM_LEASED": CLAIM,
    "ACQUIRE": ACQUIRE,
    "ACQUIRE_NEXT": ACQUIRE_NEXT,
    "HOLDERS": HOLDERS,
    "RENEW": RENEW,
    "END_LEASE": END_LEASE,
    "FLAG_CANCEL": FLAG_CANCEL,
    "REQUEUE": REQUEUE,
    "INBOX": INBOX,
    "FORGET": FORGET,
    "MIGRATE": MIGRATE,
}
