/** Protocol constants shared by the gateway and the client SDK. */

/** Namespaces that exist when no NAMESPACES_FILE is configured. */
export const DEFAULT_NAMESPACE = '/';
export const LIVE_NAMESPACE = '/live';

/** Room names: 1..200 characters from a conservative set, so they are safe in keys, logs and URLs. */
export const ROOM_NAME_MAX_LENGTH = 200;
export const ROOM_NAME_PATTERN = /^[A-Za-z0-9_\-:.@]+$/;

/** Event names chosen by publishers (the `event` of a publication). */
export const EVENT_NAME_MAX_LENGTH = 100;
export const EVENT_NAME_PATTERN = /^[A-Za-z0-9_\-:.]+$/;

export const IDEMPOTENCY_KEY_MAX_LENGTH = 128;

/** Deepest nesting of arrays/objects accepted in a publication's `data`. */
export const MAX_DATA_DEPTH = 32;

/** Upper bound of `limit` in `room:history`, and its default. */
export const HISTORY_PAGE_MAX = 1000;
export const HISTORY_PAGE_DEFAULT = 100;
/**
 * A history page (and a join's `missed[]`) holds at most about this many bytes of
 * `data` (always at least one message); the client pages on from the last offset.
 */
export const HISTORY_PAGE_MAX_BYTES = 1_048_576;

/** Rooms in one HTTP batch publish. */
export const PUBLISH_BATCH_MAX_ROOMS = 100;

/** How long the SDK holds a later offset before it fetches the gap from history. */
export const DEFAULT_REORDER_WINDOW_MS = 250;

/** Every user may join their personal room `user:<sub>`. */
export const PERSONAL_ROOM_PREFIX = 'user:';

/** The status page's namespace (served only when ADMIN_TOKEN is set; never declared in NAMESPACES_FILE). */
export const ADMIN_NAMESPACE = '/admin';
/** The room of `/admin` where every node's `status:node` goes. */
export const STATUS_ROOM = 'status';
/** Each node sends its `status:node` this often. */
export const STATUS_INTERVAL_MS = 1000;
/** A node that has sent no `status:node` for longer than this is shown as gone. */
export const STATUS_GONE_AFTER_MS = 5000;
