/**
 * The Lua scripts of the Redis history. Each runs atomically on the shard of
 * its room, which is what makes offsets contiguous under concurrent publishers
 * on many nodes: the next offset, the stream append, the trim and the TTLs are
 * one step.
 */
import { LuaScript } from './lua-script.js';

/**
 * `boot_id()`: the run id of this Redis process under lossy durability ('' under
 * lossless), asked of INFO once per script call however many rooms it touches.
 * `durability` is the Lua expression of the durability argument.
 */
const bootId = (durability: string): string => `
local boot_cache = nil
local function boot_id()
  if boot_cache == nil then
    boot_cache = ''
    if ${durability} == 'lossy' then
      boot_cache = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)') or ''
    end
  end
  return boot_cache
end
`;

/**
 * The room's meta, made sure of: after it, `meta` is { epoch, last offset } and
 * `rotated` says why the epoch was just replaced ('' when it was not). Its
 * arguments are Lua expressions: the meta and stream keys and the epoch
 * candidate; it needs boot_id() (bootId above) in scope.
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
const ensureMeta = (metaKey: string, streamKey: string, candidate: string): string => `
local rotated = ''
local boot = boot_id()
local meta = redis.call('HMGET', ${metaKey}, 'e', 'o', 'b')
if not meta[1] then
  redis.call('HSET', ${metaKey}, 'e', ${candidate}, 'o', 0)
  redis.call('DEL', ${streamKey})
  meta = { ${candidate}, '0', false }
elseif boot ~= '' and meta[3] and meta[3] ~= boot then
  redis.call('HSET', ${metaKey}, 'e', ${candidate}, 'o', 0)
  redis.call('DEL', ${streamKey})
  meta = { ${candidate}, '0', false }
  rotated = 'redis-replaced'
end
if boot ~= '' and meta[3] ~= boot then redis.call('HSET', ${metaKey}, 'b', boot) end
`;

/**
 * append_one(...): one publication into one room, the step both append scripts
 * run (the single one once, the batch one per item), so they cannot drift.
 * -> { 0, epoch, offset, rotated } stored, or { 1, { field, value, ... } } the stored duplicate.
 *
 * record: 'full' (the publication's idempotency key: the whole publication is
 * kept ttl seconds) or 'ref' (the gateway's own retry key: its offset, epoch and
 * ts only, kept retry_ttl seconds).
 */
const APPEND_ONE = `
local function append_one(meta_key, stream_key, idem_key, candidate, ttl, size, event, data, ts, from, record, retry_ttl)
  local stored = redis.call('HGETALL', idem_key)
  if #stored > 0 then return { 1, stored } end
${ensureMeta('meta_key', 'stream_key', 'candidate')}
  local epoch = meta[1]
  local offset = redis.call('HINCRBY', meta_key, 'o', 1)
  if size > 0 then
    redis.call('XADD', stream_key, 'MAXLEN', size, offset .. '-0', 'v', event, 'd', data, 't', ts, 'f', from)
    redis.call('EXPIRE', stream_key, ttl)
  end
  redis.call('EXPIRE', meta_key, ttl)
  if record == 'ref' then
    redis.call('HSET', idem_key, 'o', offset, 'e', epoch, 't', ts)
    redis.call('EXPIRE', idem_key, retry_ttl)
  else
    redis.call('HSET', idem_key, 'o', offset, 'e', epoch, 'v', event, 'd', data, 't', ts, 'f', from)
    redis.call('EXPIRE', idem_key, ttl)
  end
  return { 0, epoch, offset, rotated }
end
`;

/**
 * KEYS: meta, stream, idempotency (the publication's key, or the gateway's retry key)
 * ARGV: 1 epoch candidate, 2 ttl seconds, 3 size, 4 event, 5 data JSON, 6 ts, 7 from ('' if none),
 *       8 idempotency record ('full' | 'ref', see append_one), 9 retry key ttl seconds,
 *       10 durability ('lossy' | 'lossless')
 * -> append_one's answer
 */
export const APPEND_SCRIPT = new LuaScript(`
${bootId('ARGV[10]')}
${APPEND_ONE}
return append_one(KEYS[1], KEYS[2], KEYS[3], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], tonumber(ARGV[9]))
`);

/** ARGV entries of APPEND_MANY_SCRIPT before the items', and per item. */
export const APPEND_MANY_COMMON_ARGS = 5;
export const APPEND_MANY_ITEM_ARGS = 5;

/**
 * Many publications (rooms mixed, all keys in one hash slot on Redis Cluster),
 * each exactly as APPEND_SCRIPT would store it, in the order given: a room's
 * offsets follow that order, and a key used twice is a duplicate from its
 * second use on.
 *
 * An error reply for one item (a key of the wrong type, a refused write) is
 * that item's answer, not the script's: the items before it are stored and
 * the others go on, as with one APPEND_SCRIPT call per item (a failed item may
 * have written part of itself, as a failed APPEND_SCRIPT may). The later items
 * of its room are not attempted (so that a retry keeps the room's order).
 *
 * KEYS: per item meta, stream, idempotency (3 per item)
 * ARGV: 1 epoch candidate, 2 ttl seconds, 3 size, 4 retry key ttl seconds, 5 durability,
 *       then per item: event, data JSON, ts, from ('' if none), idempotency record ('full' | 'ref')
 * -> per item, in order: append_one's answer, { 2, error text } (its error reply),
 *    or { 3 } (not attempted: an earlier item of its room failed)
 */
export const APPEND_MANY_SCRIPT = new LuaScript(`
${bootId('ARGV[5]')}
${APPEND_ONE}
local ttl = tonumber(ARGV[2])
local size = tonumber(ARGV[3])
local retry_ttl = tonumber(ARGV[4])
local results = {}
local failed = {}
for i = 0, #KEYS / 3 - 1 do
  local k = i * 3
  local a = ${APPEND_MANY_COMMON_ARGS} + i * ${APPEND_MANY_ITEM_ARGS}
  if failed[KEYS[k + 1]] then
    results[i + 1] = { 3 }
  else
    local ok, answer = pcall(append_one, KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], ARGV[1], ttl, size, ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5], retry_ttl)
    if ok then
      results[i + 1] = answer
    else
      failed[KEYS[k + 1]] = true
      if type(answer) == 'table' then answer = answer.err or answer.message or 'ERR script error' end
      results[i + 1] = { 2, tostring(answer) }
    end
  end
end
return results
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
${bootId('ARGV[7]')}
${ensureMeta('KEYS[1]', 'KEYS[2]', 'ARGV[1]')}
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
