/**
 * The Lua scripts of the Redis history. Each runs atomically on the shard of
 * its room, which is what makes offsets contiguous under concurrent publishers
 * on many nodes: the next offset, the stream append, the trim and the TTLs are
 * one step.
 */
import { LuaScript } from './lua-script.js';

/**
 * The room's meta, made sure of: after it, `meta` is { epoch, last offset } and
 * `rotated` says why the epoch was just replaced ('' when it was not).
 *
 * ARGV[1] is the epoch candidate, ARGV[DURABILITY] is 'lossy' or 'lossless'.
 *
 * - A missing meta means the room's history is gone (never written, expired or
 *   flushed): any old stream is dropped with it and a new epoch starts at 0.
 * - Lossy durability (REDIS_DURABILITY=lossy, the default): the meta records the
 *   run id of the Redis process that last wrote it (`b`). A meta written by
 *   another process was loaded from disk or a replica (a restart, a failover, a
 *   restored backup), which may have lost acknowledged writes (an older
 *   snapshot, the appendfsync window, a lagging replica): handing out offsets
 *   from its counter could give an offset twice within one epoch, so the room
 *   starts a new epoch (`rotated` = 'redis-replaced'). A meta without `b` (written
 *   before this rule, or under lossless durability) is adopted as it is.
 * - Lossless durability: the operator guarantees that Redis never loses an
 *   acknowledged write; `b` is not read (no INFO call per script).
 */
const ensureMeta = (durabilityArg: number): string => `
local rotated = ''
local boot = ''
if ARGV[${durabilityArg}] == 'lossy' then
  boot = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)') or ''
end
local meta = redis.call('HMGET', KEYS[1], 'e', 'o', 'b')
if not meta[1] then
  redis.call('HSET', KEYS[1], 'e', ARGV[1], 'o', 0)
  redis.call('DEL', KEYS[2])
  meta = { ARGV[1], '0', false }
elseif boot ~= '' and meta[3] and meta[3] ~= boot then
  redis.call('HSET', KEYS[1], 'e', ARGV[1], 'o', 0)
  redis.call('DEL', KEYS[2])
  meta = { ARGV[1], '0', false }
  rotated = 'redis-replaced'
end
if boot ~= '' and meta[3] ~= boot then redis.call('HSET', KEYS[1], 'b', boot) end
`;

/**
 * KEYS: meta, stream[, idempotency]
 * ARGV: 1 epoch candidate, 2 ttl seconds, 3 size, 4 event, 5 data JSON, 6 ts, 7 from ('' if none),
 *       8 idempotency record ('full': the whole publication, kept ttl seconds; 'ref': its
 *       offset, epoch and ts only, kept ARGV[9] seconds, for the gateway's own retry keys),
 *       9 retry key ttl seconds, 10 durability ('lossy' | 'lossless')
 * -> { 0, epoch, offset, rotated } stored, or { 1, { field, value, ... } } the stored duplicate
 */
export const APPEND_SCRIPT = new LuaScript(`
if #KEYS == 3 then
  local stored = redis.call('HGETALL', KEYS[3])
  if #stored > 0 then return { 1, stored } end
end
${ensureMeta(10)}
local epoch = meta[1]
local offset = redis.call('HINCRBY', KEYS[1], 'o', 1)
local ttl = tonumber(ARGV[2])
local size = tonumber(ARGV[3])
if size > 0 then
  redis.call('XADD', KEYS[2], 'MAXLEN', size, offset .. '-0', 'v', ARGV[4], 'd', ARGV[5], 't', ARGV[6], 'f', ARGV[7])
  redis.call('EXPIRE', KEYS[2], ttl)
end
redis.call('EXPIRE', KEYS[1], ttl)
if #KEYS == 3 then
  if ARGV[8] == 'ref' then
    redis.call('HSET', KEYS[3], 'o', offset, 'e', epoch, 't', ARGV[6])
    redis.call('EXPIRE', KEYS[3], tonumber(ARGV[9]))
  else
    redis.call('HSET', KEYS[3], 'o', offset, 'e', epoch, 'v', ARGV[4], 'd', ARGV[5], 't', ARGV[6], 'f', ARGV[7])
    redis.call('EXPIRE', KEYS[3], ttl)
  end
end
return { 0, epoch, offset, rotated }
`);

/**
 * KEYS: meta, stream
 * ARGV: 1 epoch candidate, 2 ttl seconds, 3 since epoch ('' for none), 4 since offset, 5 limit,
 *       6 cutoff (ms: entries written before it are expired), 7 durability ('lossy' | 'lossless')
 * -> { epoch, last offset, recovered (0/1), entries, rotated }
 *
 * The entries are always one contiguous run of offsets, up to `limit`:
 * - no since: the oldest retained entries (recovered 1);
 * - since of the current epoch: what follows it; recovered 1 when that starts
 *   right after since, else 0 with what history still holds of the range (the
 *   client reports a gap for the rest and takes these);
 * - since of another epoch: the oldest retained entries of the current epoch (recovered 0);
 * - since ahead of the room's last offset: nothing (recovered 0).
 *
 * Expired entries: a busy room's stream keeps entries older than the TTL (the
 * key's TTL restarts at each write). They are cut as a prefix: everything up to
 * the last expired entry scanned goes, so the run stays contiguous even when
 * timestamps are not in offset order (clock skew between nodes, a retried
 * append), and COUNT applies after the cut, so a page is never empty while
 * fresh entries follow.
 */
export const READ_SCRIPT = new LuaScript(`
${ensureMeta(7)}
redis.call('EXPIRE', KEYS[1], ARGV[2])
local epoch = meta[1]
local last = tonumber(meta[2])
local limit = tonumber(ARGV[5])
local cutoff = tonumber(ARGV[6])
if limit == 0 then return { epoch, last, 1, {}, rotated } end
local since = nil
if ARGV[3] ~= '' and ARGV[3] == epoch then
  since = tonumber(ARGV[4])
  if since > last then return { epoch, last, 0, {}, rotated } end
  if since == last then return { epoch, last, 1, {}, rotated } end
end
local run = {}
local start = '-'
if since ~= nil then start = '(' .. since .. '-0' end
local done = false
while not done do
  local batch = redis.call('XRANGE', KEYS[2], start, '+', 'COUNT', limit)
  for _, entry in ipairs(batch) do
    local ts = tonumber(entry[2][6])
    if ts ~= nil and ts < cutoff then
      run = {}
    else
      run[#run + 1] = entry
      if #run >= limit then
        done = true
        break
      end
    end
  end
  if #batch < limit then done = true end
  if not done then start = '(' .. batch[#batch][1] end
end
local recovered = 0
if ARGV[3] == '' then
  recovered = 1
elseif since ~= nil and #run > 0 and tonumber(string.match(run[1][1], '^(%d+)')) == since + 1 then
  recovered = 1
end
return { epoch, last, recovered, run, rotated }
`);
