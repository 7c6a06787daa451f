/** What the socket handlers of one namespace need, injected by the gateway. */
import type { NodeStatus } from '../../../shared/index.js';
import type { Config } from '../../config/config.js';
import type { NamespaceRules } from '../../config/namespaces.js';
import type { HistoryStore } from '../../core/history-store.js';
import type { Membership } from '../../core/membership.js';
import type { Publisher } from '../../core/publisher.js';
import type { Sessions } from '../../core/session.js';
import type { Subscriptions } from '../../core/subscription.js';
import type { PublishBudget } from '../../ops/publish-budget.js';
import type { ClientAddresses } from '../../ops/client-address.js';
import type { Logger } from '../../ops/logger.js';
import type { GatewayMetrics, NamespaceCounters } from '../../ops/metrics.js';
import type { RoomTaps } from './adapter-taps.js';
import type { RoomcastNamespace, RoomcastSocket } from './types.js';

export interface RealtimeDeps {
  config: Config;
  logger: Logger;
  history: HistoryStore;
  publisher: Publisher;
  /** Who is connected: token checks, room policy, admission, per-user counts, expiry. */
  sessions: Sessions;
  /** Room members (the presence store) and the presence announce rule. */
  membership: Membership;
  /** Where a joining member starts: the room's position and what it missed. */
  subscriptions: Subscriptions;
  /** PUBLISH_BYTES_PER_USER_PER_S: each user's bytes of client publications and signals on this node. */
  publishBudget: PublishBudget;
  /** The client address of a request (TRUSTED_PROXIES decide whether X-Forwarded-For counts). */
  addresses: ClientAddresses;
  metrics: GatewayMetrics;
  /** Closes the connection now if its outgoing buffer is past MAX_CLIENT_BUFFER_BYTES. */
  checkOutgoingBuffer: (socket: RoomcastSocket) => void;
  /** This node's latest status figures, sent to a status page as it connects (only used with ADMIN_TOKEN). */
  latestStatus: () => NodeStatus | null;
  /** Taps on each namespace's adapter: SSE listeners fed from it, and the sharded adapter's room subscriptions. */
  roomTaps?: RoomTaps;
}

export interface NamespaceContext extends RealtimeDeps {
  rules: NamespaceRules;
  namespace: RoomcastNamespace;
  /** The namespace's pre-bound counters (connections, packets by event). */
  counters: NamespaceCounters;
}
