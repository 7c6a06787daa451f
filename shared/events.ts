/**
 * The four Socket.IO event maps, used as the type parameters of
 * `Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>`
 * on the gateway and `Socket<ServerToClientEvents, ClientToServerEvents>` in the SDK.
 */
import type { ErrorPayload } from './errors.js';
import type {
  AuthRefreshRequest,
  HistoryRequest,
  JoinRequest,
  LeaveRequest,
  Message,
  PresenceListRequest,
  PresenceMember,
  PublishRequest,
  Signal,
  SignalRequest,
  StreamPosition,
} from './wire-types.js';

/** Every client request is acknowledged with this: success fields, or a typed error. */
export type Ack<T extends object = object> = ({ ok: true } & T) | { ok: false; error: ErrorPayload };

export type AckCallback<T extends object = object> = (response: Ack<T>) => void;

export interface JoinResult {
  room: string;
  epoch: string;
  /** The room's last offset when the join took effect. */
  offset: number;
  /** True when `missed` holds everything after `since` (always true on a first join). */
  recovered: boolean;
  /**
   * Publications after `since` up to `offset`, in order (possibly capped: read the
   * rest with room:history); empty on a first join. When not recovered: what
   * history still holds of that range, one contiguous run from the first retained
   * offset (of the current epoch when `since` is of another one); the part
   * before it is a gap.
   */
  missed: Message[];
}

export interface LeaveResult {
  room: string;
}

export interface PublishResult {
  room: string;
  epoch: string;
  offset: number;
}

// PublishItemResult and HttpPublishResponse (the HTTP API's answers) live in api.ts.

export interface HistoryResult {
  room: string;
  epoch: string;
  /** The room's last offset at the time of the read. */
  offset: number;
  /** False when history no longer holds the offsets right after `since`. */
  recovered: boolean;
  /** One contiguous run of offsets in order; when not recovered, what history still holds after the lost part. */
  messages: Message[];
}

export interface SignalResult {
  room: string;
}

export interface PresenceListResult {
  room: string;
  members: PresenceMember[];
}

export interface AuthRefreshResult {
  /** Expiry of the new token, in milliseconds since the epoch; null if it never expires. */
  expiresAt: number | null;
}

export interface ClientToServerEvents {
  'room:join': (request: JoinRequest, ack: AckCallback<JoinResult>) => void;
  'room:leave': (request: LeaveRequest, ack: AckCallback<LeaveResult>) => void;
  'room:publish': (request: PublishRequest, ack: AckCallback<PublishResult>) => void;
  'room:history': (request: HistoryRequest, ack: AckCallback<HistoryResult>) => void;
  'presence:list': (request: PresenceListRequest, ack: AckCallback<PresenceListResult>) => void;
  /** Volatile: relayed to the room's other members as `signal`, never stored, no offset, may be dropped. */
  'room:signal': (request: SignalRequest, ack: AckCallback<SignalResult>) => void;
  'auth:refresh': (request: AuthRefreshRequest, ack: AckCallback<AuthRefreshResult>) => void;
}

export type ClientEventName = keyof ClientToServerEvents;

/** The protocol's client events, for the gateway's UNKNOWN_EVENT check. */
export const CLIENT_EVENT_NAMES: readonly ClientEventName[] = [
  'room:join',
  'room:leave',
  'room:publish',
  'room:history',
  'presence:list',
  'room:signal',
  'auth:refresh',
];

export interface PresenceEvent {
  room: string;
  member: PresenceMember;
}

export interface DrainingEvent {
  /** Reconnect after this many milliseconds (spread across clients by the gateway). */
  reconnectInMs: number;
}

/** An error the gateway could not deliver as an acknowledgement (no ack callback, unknown event, forced disconnect). */
export interface ProtocolErrorEvent extends ErrorPayload {
  /** The client event that caused it, when there was one. */
  event?: string;
  /** The room it concerns, when there is one (e.g. a room left because a refreshed token no longer allows it). */
  room?: string;
}

/** Sent once a connection is open: the user, and the rooms the server joined it to (the token's `subscribe` claim, `user:<sub>`). */
export interface SessionEvent {
  user: string;
  /** Each room's position when it was joined: the SDK treats them as rooms it joined itself (and rejoins them with `since`). */
  rooms: Array<{ room: string; epoch: string; offset: number }>;
}

/** The server took the connection out of a room (POST /api/v1/users/:user/rooms/:room/leave): it is no longer a member. */
export interface RoomLeftEvent {
  room: string;
  /** Why, for the app: `api` (the backend asked). */
  reason: 'api';
}

export interface ServerToClientEvents {
  message: (message: Message) => void;
  /** A volatile `room:signal` of another member (typing, cursor): no offset, not in history, may be dropped. */
  signal: (signal: Signal) => void;
  'presence:join': (event: PresenceEvent) => void;
  'presence:leave': (event: PresenceEvent) => void;
  'server:draining': (event: DrainingEvent) => void;
  'protocol:error': (event: ProtocolErrorEvent) => void;
  session: (event: SessionEvent) => void;
  'room:left': (event: RoomLeftEvent) => void;
}

/**
 * One node's figures, sent by every node each STATUS_INTERVAL_MS to the `status` room of the
 * `/admin` namespace (through the adapter, so a page connected to any node sees every node).
 */
export interface NodeStatus {
  nodeId: string;
  /** When the node took these figures, in ms since the epoch (the node's clock). */
  at: number;
  /** Open Engine.IO connections on the node (status pages included). */
  connections: number;
  /** Client requests (socket packets) received per second since the previous figures. */
  messagesInPerSecond: number;
  /** Packets written to sockets by broadcasts (one per recipient) per second since the previous figures; `/admin` not counted. */
  messagesOutPerSecond: number;
  /** The canary's Redis pub/sub lag, 99th percentile over its last samples; null on a single node (or before any sample). */
  pubsubLagP99Ms: number | null;
  heapUsedBytes: number;
  rssBytes: number;
  /** What /readyz says. */
  ready: boolean;
  /** Why not ready (as /readyz's `reason`); null when ready. */
  notReadyReason: string | null;
  /** Shutting down: telling its clients to move (SIGTERM). */
  draining: boolean;
  uptimeSeconds: number;
}

// ---- issue 14 (REST API): the status page's rooms, users and disconnect ----
/** What the status page shows of the cluster's rooms and users (`admin:rooms`), read from the presence store. */
export interface AdminRoomsResult {
  /** Occupied rooms of every namespace in name order, `user:<sub>` rooms left out (they are `users`), with member counts. */
  rooms: Array<{ namespace: string; room: string; members: number }>;
  /** Connected users, from their `user:<sub>` rooms (AUTO_JOIN_USER_ROOM), with their connections (sockets, per namespace). */
  users: Array<{ user: string; connections: number }>;
  /** More rooms or users exist than were listed (ADMIN_LIST_MAX per namespace). */
  truncated: boolean;
}

export interface AdminDisconnectRequest {
  user: string;
}

export interface AdminDisconnectResult {
  user: string;
}

/** The status page's requests (admin only: `/admin` checks ADMIN_TOKEN at the handshake). */
export interface AdminClientToServerEvents {
  'admin:rooms': (request: Record<string, never>, ack: AckCallback<AdminRoomsResult>) => void;
  /** Every connection of the user on every node is closed (as POST /api/v1/users/:user/disconnect). */
  'admin:disconnect': (request: AdminDisconnectRequest, ack: AckCallback<AdminDisconnectResult>) => void;
}
// ---- end issue 14 (REST API) ----

export interface AdminServerToClientEvents {
  'status:node': (status: NodeStatus) => void;
  /** The node the page is connected to is shutting down: reconnect (to another node) after `reconnectInMs`. */
  'server:draining': (event: DrainingEvent) => void;
}

// ---- issue 14 (REST API): cross-node user commands ----
/** A user command, sent to every other node (serverSideEmit over the adapter); the sender applies it itself. */
export interface UserDisconnectCommand {
  user: string;
  /** What each connection is told (`protocol:error`) before it is closed. */
  error: ErrorPayload;
}

export interface UserLeaveCommand {
  user: string;
  namespace: string;
  room: string;
}
// ---- end issue 14 (REST API) ----

/** Events between gateway nodes (serverSideEmit over the adapter; a single node has no other node). */
export interface InterServerEvents {
  'user:disconnect': (command: UserDisconnectCommand) => void;
  'user:leave': (command: UserLeaveCommand) => void;
}

/** What the gateway keeps on each socket after authentication. */
export interface SocketData {
  userId: string;
  /** Room patterns from the token's `rooms` claim. */
  roomPatterns: string[];
  /** Token expiry in ms since the epoch, or null. */
  expiresAt: number | null;
}

export type { StreamPosition };
