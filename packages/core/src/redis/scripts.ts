/**
 * The Lua side of RedisBroker. Keys (P = keyPrefix):
 *   P meta      HASH  epoch, seq (the cluster's one sequence), wm (watermark of forgotten drops),
 *                     node (master_replid of the server that holds the data), lineage (the
 *                     epochs this one succeeded, newest first, each with the last seq it kept:
 *                     `<epoch> <seq> <epoch> <seq>…`, at most 16)
 *   P idx       ZSET  topic -> seq of its newest event, one member per history (stream)
 *   P gone      ZSET  topic -> seq of its newest event, for dropped histories (tombstones)
 *   P s:<topic> STREAM entries `<seq>-0` with field f = the event's WebSocket frame
 *   P i:<topic>|<key>  STRING the frame a keyed publish produced (topics never contain `|`)
 * Live events go to the channel P c:<topic>. Streams are named from ARGV as well as KEYS because
 * dropping a history touches another topic's stream: fine on one Redis, not on Redis Cluster.
 *
 * A stream's `max-deleted-entry-id` is kept as "the seq up to which this topic's events may be
 * lost": Redis 7.0 updates it for XDEL only, not when MAXLEN trims, so the scripts set it with
 * XSETID (trimmed entry, or what a recreated history inherits from its tombstone or the watermark).
 */

/**
 * A missing meta hash means Redis lost its data: start a new epoch, drop what is left.
 *
 * A meta hash written under another replication id means another server holds the data now (a
 * replica promoted by a failover, a restart): replication is asynchronous, so the data may lack
 * the newest events the old server acknowledged, and their seqs would be handed out again. The
 * epoch is succeeded: ids up to the seq this server holds stay valid (its data has them all), the
 * sequence goes on under a new epoch, and an id of the old epoch beyond that seq, which can only
 * name a lost event, is reset. A succession that lost nothing costs nothing. INFO costs a few µs.
 * The 16 newest successions are remembered (several failovers in a row); older ids are reset.
 */
const ENSURE_META = `
local function ensure_meta(meta, idx, gone, prefix, fresh)
  local node = string.match(redis.call('INFO', 'replication'), 'master_replid:(%w+)')
  local m = redis.call('HMGET', meta, 'epoch', 'node', 'seq')
  if m[1] and m[2] == node then return m[1] end
  if m[1] then
    -- A later epoch sorts after the one it succeeds, whatever the clocks say (ids allow 32 characters).
    if fresh <= m[1] and #m[1] <= 28 then fresh = m[1] .. string.sub(fresh, -4) end
    local lineage = {m[1] .. ' ' .. m[3]}
    for e, last in string.gmatch(redis.call('HGET', meta, 'lineage') or '', '(%S+) (%S+)') do
      if #lineage == 16 then break end
      lineage[#lineage + 1] = e .. ' ' .. last
    end
    redis.call('HSET', meta, 'epoch', fresh, 'node', node, 'lineage', table.concat(lineage, ' '))
    return fresh
  end
  -- Streams surviving a partial loss hold seqs of an epoch nobody can name any more.
  for _, topic in ipairs(redis.call('ZRANGE', idx, 0, -1)) do redis.call('DEL', prefix .. topic) end
  redis.call('DEL', idx, gone)
  redis.call('HDEL', meta, 'lineage')
  redis.call('HSET', meta, 'epoch', fresh, 'seq', 0, 'wm', 0, 'node', node)
  return fresh
end
`;

/**
 * KEYS: meta, idx, gone, stream, idempotency key.
 * ARGV: fresh epoch, frame tail (`,"topic":…,"type":…,"data":…,"time":`), historySize,
 *       maxHistories, ttlMs, idempotencyTtlMs, has key ('1'/'0'), channel, topic, stream prefix.
 * Returns {1, frame} for a duplicate, else {0, seq, epoch, time, histories}.
 */
export const PUBLISH_LUA = `${ENSURE_META}
local meta, idx, gone, stream, ikey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local size, maxh, ttl = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local keyed, topic, prefix = ARGV[7] == '1', ARGV[9], ARGV[10]
if keyed then
  local seen = redis.call('GET', ikey)
  if seen then return {1, seen} end
end
local epoch = ensure_meta(meta, idx, gone, prefix, ARGV[1])
local seq = redis.call('HINCRBY', meta, 'seq', 1)
local sseq = string.format('%d', seq)
local sid = sseq .. '-0'
local t = redis.call('TIME')
local time = t[1] .. string.format('%03d', math.floor(tonumber(t[2]) / 1000))
-- Byte for byte eventFrame(envelope): key order id, topic, type, data, time.
local frame = '{"type":"event","event":{"id":"' .. epoch .. '-' .. sseq .. '"' .. ARGV[2] .. time .. '}}'

local lost = 0
if redis.call('EXISTS', stream) == 0 then
  -- A history created anew remembers what its topic lost before (tombstone, else watermark).
  lost = tonumber(redis.call('ZSCORE', idx, topic) or redis.call('ZSCORE', gone, topic) or redis.call('HGET', meta, 'wm'))
  redis.call('ZREM', gone, topic)
elseif size > 0 then
  local len = redis.call('XLEN', stream)
  if len >= size then
    local out = redis.call('XRANGE', stream, '-', '+', 'COUNT', string.format('%d', len - size + 1))
    lost = tonumber(string.match(out[#out][1], '^%d+'))
  end
end
local added = redis.pcall('XADD', stream, 'MAXLEN', ARGV[3], sid, 'f', frame)
if type(added) == 'table' and added.err then
  -- A stream left from a lost epoch holds higher ids: it means nothing now.
  redis.call('DEL', stream)
  redis.call('XADD', stream, 'MAXLEN', ARGV[3], sid, 'f', frame)
  lost = tonumber(redis.call('HGET', meta, 'wm'))
end
if size == 0 then lost = seq end
if lost > 0 then redis.call('XSETID', stream, sid, 'MAXDELETEDID', string.format('%d-0', lost)) end
redis.call('ZADD', idx, sseq, topic)
if ttl > 0 then redis.call('PEXPIRE', stream, ARGV[5]) end
if keyed then redis.call('SET', ikey, frame, 'PX', ARGV[6]) end
redis.call('PUBLISH', ARGV[8], frame)

-- A dropped history leaves a tombstone; past maxHistories tombstones the oldest fold into wm.
local function bury(name, last)
  redis.call('ZADD', gone, last, name)
  if redis.call('ZCARD', gone) > maxh then
    local oldest = redis.call('ZPOPMIN', gone)
    if tonumber(oldest[2]) > tonumber(redis.call('HGET', meta, 'wm')) then redis.call('HSET', meta, 'wm', oldest[2]) end
  end
end
if ttl > 0 then
  -- Streams expire by PEXPIRE; all share one TTL from their last publish, so the expired ones are
  -- the lowest in idx. Turn (a bounded number of) them into tombstones.
  for _ = 1, 32 do
    local low = redis.call('ZRANGE', idx, 0, 0, 'WITHSCORES')
    if low[1] == nil or low[1] == topic or redis.call('EXISTS', prefix .. low[1]) == 1 then break end
    redis.call('ZREM', idx, low[1])
    bury(low[1], low[2])
  end
end
while redis.call('ZCARD', idx) > maxh do
  local low = redis.call('ZRANGE', idx, 0, 0, 'WITHSCORES')
  if low[1] == topic then break end
  redis.call('ZREM', idx, low[1])
  redis.call('DEL', prefix .. low[1])
  bury(low[1], low[2])
end
return {0, seq, epoch, time, redis.call('ZCARD', idx)}
`;

/** The seq up to which a topic's events may be lost (see the header). */
const LOST_OF = `
local function lost_of(meta, idx, gone, stream, topic)
  if redis.call('EXISTS', stream) == 1 then
    local info = redis.call('XINFO', 'STREAM', stream)
    for i = 1, #info, 2 do
      if info[i] == 'max-deleted-entry-id' then return tonumber(string.match(info[i + 1], '^%d+')) end
    end
    return 0
  end
  -- An expired stream not yet buried still has its idx entry: its last seq.
  local last = redis.call('ZSCORE', idx, topic) or redis.call('ZSCORE', gone, topic) or redis.call('HGET', meta, 'wm')
  return tonumber(last)
end
`;

/**
 * One atomic snapshot of several topics. KEYS: meta, idx, gone, stream_1..n.
 * ARGV: fresh epoch, the id's epoch ('' if malformed), then topic_i, afterSeq_i for each stream.
 * Returns {epoch or '', seq, last seq of the id's epoch if this one succeeded it (else -1), then
 * per topic: reset 1/0, count, frames}. An after-seq is interpretable in the current epoch up to
 * seq, and in an epoch of the lineage up to the last seq it kept; otherwise the topic is reset and
 * gets all that is held. A topic whose events after the after-seq were trimmed or dropped is reset too.
 */
export const REPLAY_LUA = `${ENSURE_META}${LOST_OF}
local meta, idx, gone = KEYS[1], KEYS[2], KEYS[3]
if not redis.call('HGET', meta, 'epoch') then return {'', 0, -1} end
local epoch = ensure_meta(meta, idx, gone, '', ARGV[1])
local m = redis.call('HMGET', meta, 'seq', 'lineage')
local seq, inherited = tonumber(m[1]), -1
for e, last in string.gmatch(m[2] or '', '(%S+) (%S+)') do
  if e == ARGV[2] then inherited = tonumber(last) break end
end
local out = {epoch, seq, inherited}
for i = 1, #KEYS - 3 do
  local stream, topic, after = KEYS[3 + i], ARGV[2 * i + 1], tonumber(ARGV[2 * i + 2])
  local valid = (ARGV[2] == epoch and after <= seq) or after <= inherited
  if not valid then after = 0 end
  local lost = lost_of(meta, idx, gone, stream, topic)
  out[#out + 1] = (not valid or lost > after) and 1 or 0
  local entries = redis.call('XRANGE', stream, string.format('(%d-0', after), '+')
  out[#out + 1] = #entries
  for _, entry in ipairs(entries) do out[#out + 1] = entry[2][2] end
end
return out
`;

/**
 * One page of one topic's history. KEYS: meta, idx, gone, stream.
 * ARGV: fresh epoch, the before id's epoch ('' for "before now", '!' if malformed), its seq, limit, topic.
 * Returns {epoch or '' (no data), seq, reset 1/0, frames newest first}. A before id is interpretable
 * as a replay's after id is; otherwise no frames and reset. A page short of limit is reset when
 * the topic may have lost events (see lost_of).
 */
export const HISTORY_LUA = `${ENSURE_META}${LOST_OF}
local meta, idx, gone, stream = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
if not redis.call('HGET', meta, 'epoch') then return {'', 0, ARGV[2] == '' and 0 or 1} end
local epoch = ensure_meta(meta, idx, gone, '', ARGV[1])
local m = redis.call('HMGET', meta, 'seq', 'lineage')
local seq, before, limit = tonumber(m[1]), tonumber(m[1]) + 1, tonumber(ARGV[4])
if ARGV[2] ~= '' then
  local inherited = -1
  for e, last in string.gmatch(m[2] or '', '(%S+) (%S+)') do
    if e == ARGV[2] then inherited = tonumber(last) break end
  end
  before = tonumber(ARGV[3])
  if not ((ARGV[2] == epoch and before <= seq) or before <= inherited) then return {epoch, seq, 1} end
end
local entries = {}
if before > 1 then
  entries = redis.call('XREVRANGE', stream, string.format('(%d-0', before), '-', 'COUNT', ARGV[4])
end
local out = {epoch, seq, (#entries < limit and lost_of(meta, idx, gone, stream, ARGV[5]) > 0) and 1 or 0}
for _, entry in ipairs(entries) do out[#out + 1] = entry[2][2] end
return out
`;

/** KEYS: meta, idx, gone. ARGV: fresh epoch, stream prefix. Returns {epoch, seq, histories}. */
export const META_LUA = `${ENSURE_META}
local epoch = ensure_meta(KEYS[1], KEYS[2], KEYS[3], ARGV[2], ARGV[1])
return {epoch, redis.call('HGET', KEYS[1], 'seq'), redis.call('ZCARD', KEYS[2])}
`;

/**
 * Presence (see redis/presence.ts). KEYS: the topic's member hash, its expiry zset. Every script
 * first removes the members whose expiry passed, publishing their leaves, so a read never lists a
 * member of a process that died and somebody always tells the watchers.
 */
const PRESENCE_REAP = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function change(channel, action, count, member)
  redis.call('PUBLISH', channel, '{"a":"' .. action .. '","n":' .. count .. ',"m":' .. member .. '}')
end
local function reap(pm, pz, channel, now)
  local gone = redis.call('ZRANGEBYSCORE', pz, '-inf', now)
  if #gone == 0 then return end
  redis.call('ZREMRANGEBYSCORE', pz, '-inf', now)
  local count = redis.call('ZCARD', pz)
  for _, id in ipairs(gone) do
    local member = redis.call('HGET', pm, id)
    if member then
      redis.call('HDEL', pm, id)
      change(channel, 'leave', count, member)
    end
  end
end
local function keep(pm, pz, ttl)
  redis.call('PEXPIRE', pm, 2 * ttl)
  redis.call('PEXPIRE', pz, 2 * ttl)
end
`;

/** ARGV: ttlMs, channel, connection id, member JSON. */
export const PRESENCE_ADD_LUA = `${PRESENCE_REAP}
local pm, pz, ttl, channel = KEYS[1], KEYS[2], tonumber(ARGV[1]), ARGV[2]
local now = now_ms()
reap(pm, pz, channel, now)
local added = redis.call('HSETNX', pm, ARGV[3], ARGV[4])
redis.call('ZADD', pz, now + ttl, ARGV[3])
keep(pm, pz, ttl)
if added == 1 then change(channel, 'join', redis.call('ZCARD', pz), ARGV[4]) end
return added
`;

/** ARGV: channel, connection id. */
export const PRESENCE_REMOVE_LUA = `${PRESENCE_REAP}
local pm, pz, channel = KEYS[1], KEYS[2], ARGV[1]
local member = redis.call('HGET', pm, ARGV[2])
if not member then return 0 end
redis.call('HDEL', pm, ARGV[2])
redis.call('ZREM', pz, ARGV[2])
change(channel, 'leave', redis.call('ZCARD', pz), member)
return 1
`;

/** ARGV: ttlMs, channel, then connection id, member JSON for each of the calling process's members. */
export const PRESENCE_REFRESH_LUA = `${PRESENCE_REAP}
local pm, pz, ttl, channel = KEYS[1], KEYS[2], tonumber(ARGV[1]), ARGV[2]
local now = now_ms()
reap(pm, pz, channel, now)
for i = 3, #ARGV, 2 do
  redis.call('ZADD', pz, now + ttl, ARGV[i])
  -- Expired while this process was stalled (and its leave published): it is back.
  if redis.call('HSETNX', pm, ARGV[i], ARGV[i + 1]) == 1 then change(channel, 'join', redis.call('ZCARD', pz), ARGV[i + 1]) end
end
keep(pm, pz, ttl)
return 1
`;

/** ARGV: channel. Returns the live members' JSON. */
export const PRESENCE_MEMBERS_LUA = `${PRESENCE_REAP}
local pm, pz = KEYS[1], KEYS[2]
reap(pm, pz, ARGV[1], now_ms())
return redis.call('HVALS', pm)
`;
