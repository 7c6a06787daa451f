/**
 * The Lua scripts of the Redis history. Each runs atomically on the shard of
 * its room, which is what makes offsets contiguous under concurrent publishers
 * on many nodes: the next offset, the stream append, the trim and the TTLs are
 * one step.
 */
import { LuaScript } from '../../cluster/lua-script.js';

/**
 * The room's meta, created with the candidate epoch when missing. A missing meta
 * means the room's history is gone (never written, expired or flushed): any old
 * stream is dropped with it, so offsets of the new epoch start at 1.
 */
const ENSURE_META = `
local meta = redis.call('HMGET', KEYS[1], 'e', 'o')
if not meta[1] then
  redis.call('HSET', KEYS[1], 'e', ARGV[1], 'o', 0)
  redis.call('DEL', KEYS[2])
  meta = { ARGV[1], '0' }
end
`;

/**
 * KEYS: meta, stream[, idempotency]
 * ARGV: epoch candidate, ttl seconds, size, event, data JSON, ts, from ('' if none),
 *       idempotency record ('full': the whole publication, kept ttl seconds; 'ref': its
 *       offset, epoch and ts only, kept ARGV[9] seconds, for the gateway's own retry keys)
 * -> { 0, epoch, offset } stored, or { 1, { field, value, ... } } the stored duplicate
 */
export const APPEND_SCRIPT = new LuaScript(`
if #KEYS == 3 then
  local stored = redis.call('HGETALL', KEYS[3])
  if #stored > 0 then return { 1, stored } end
end
${ENSURE_META}
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
return { 0, epoch, offset }
`);

/**
 * KEYS: meta, stream
 * ARGV: epoch candidate, ttl seconds, since epoch ('' for none), since offset, limit
 * -> { epoch, last offset, verdict, entries } where verdict 0 = not recoverable,
 *    1 = nothing missed, 2 = entries to check for coverage
 */
export const READ_SCRIPT = new LuaScript(`
${ENSURE_META}
redis.call('EXPIRE', KEYS[1], ARGV[2])
local epoch = meta[1]
local last = tonumber(meta[2])
if tonumber(ARGV[5]) == 0 then return { epoch, last, 1, {} } end
if ARGV[3] ~= '' then
  local since = tonumber(ARGV[4])
  if ARGV[3] ~= epoch or since > last then return { epoch, last, 0, {} } end
  if since == last then return { epoch, last, 1, {} } end
  return { epoch, last, 2, redis.call('XRANGE', KEYS[2], (since + 1) .. '-0', '+', 'COUNT', ARGV[5]) }
end
return { epoch, last, 2, redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', ARGV[5]) }
`);
