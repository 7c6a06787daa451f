/**
 * With PARSER=msgpack a payload arrives as whatever MessagePack can carry, which
 * is more than JSON: `undefined` (object keys the JSON parser would have dropped),
 * Dates, NaN/Infinity, binary. The protocol is JSON, so every incoming payload is
 * first brought to what the JSON parser would have produced (keys holding
 * undefined dropped, undefined in arrays -> null, a Date -> its ISO string,
 * non-finite numbers -> null); binary stays binary and fails validation, as it
 * does with the JSON parser. One request behaves the same under both parsers.
 */

/** Beyond this depth values are left as they are: the schemas and the depth check refuse them anyway. */
const MAX_NORMALIZE_DEPTH = 64;

function isPlainObject(value: object): value is Record<string, unknown> {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Returns `value` itself when nothing needed changing (the common case), else a normalised copy. */
export function normalizeToJson(value: unknown, depth = 0): unknown {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (value === null || typeof value !== 'object' || depth > MAX_NORMALIZE_DEPTH) return value;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i += 1) {
      const item: unknown = value[i];
      const next = item === undefined ? null : normalizeToJson(item, depth + 1);
      if (next !== item) {
        copy ??= value.slice();
        copy[i] = next;
      }
    }
    return copy ?? value;
  }
  if (!isPlainObject(value)) return value;
  let copy: Record<string, unknown> | undefined;
  for (const key of Object.keys(value)) {
    const item = value[key];
    if (item === undefined) {
      copy ??= { ...value };
      delete copy[key];
      continue;
    }
    const next = normalizeToJson(item, depth + 1);
    if (next !== item) {
      copy ??= { ...value };
      copy[key] = next;
    }
  }
  return copy ?? value;
}
