/**
 * Redis key names of a room. Every key of one room carries the same hash tag
 * `{<namespace>|<room>}`, so one Lua script can touch them all on Redis Cluster.
 * Room and namespace names cannot contain braces (shared naming rules).
 */
export const KEY_PREFIX = 'rc:';

export function roomTag(namespace: string, room: string): string {
  return `{${namespace}|${room}}`;
}

export const historyKeys = (namespace: string, room: string) => {
  const tag = `${KEY_PREFIX}${roomTag(namespace, room)}`;
  return {
    /** hash: e = epoch, o = last offset */
    meta: `${tag}:meta`,
    /** stream: entry id `<offset>-0`, fields v (event), d (data JSON), t (ts), f (from) */
    stream: `${tag}:stream`,
    /** hash: the stored publication of an idempotency key */
    idempotency: (key: string) => `${tag}:idem:${key}`,
  };
};
