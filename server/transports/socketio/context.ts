/** What the socket handlers of one namespace need, injected by the gateway. */
import type { NodeStatus } from '../../../shared/index.js';
import type { TokenVerifier } from '../../auth/token-verifier.js';
import type { AdapterFactory } from '../../backends/redis/adapter-factory.js';
import type { Config } from '../../config/config.js';
import type { NamespaceRules } from '../../config/namespaces.js';
import type { HistoryStore } from '../../core/history-store.js';
import type { Publisher } from '../../core/publisher.js';
import type { Admission } from '../../ops/admission.js';
import type { PublishBudget } from '../../ops/publish-budget.js';
import type { ClientAddresses } from '../../ops/client-address.js';
import type { Logger } from '../../ops/logger.js';
import type { GatewayMetrics } from '../../ops/metrics.js';
import type { PresenceStore } from '../../core/presence-store.js';
import type { RoomWatermarks } from '../../core/room-watermarks.js';
import type { RoomTaps } from './adapter-taps.js';
import type { RoomcastNamespace, RoomcastSocket } from './types.js';

export interface RealtimeDeps {
  config: Config;
  logger: Logger;
  history: HistoryStore;
  presence: PresenceStore;
  publisher: Publisher;
  verifyToken: TokenVerifier;
  admission: Admission;
  /** PUBLISH_BYTES_PER_USER_PER_S: each user's bytes of client publications and signals on this node. */
  publishBudget: PublishBudget;
  /** The client address of a request (TRUSTED_PROXIES decide whether X-Forwarded-For counts). */
  addresses: ClientAddresses;
  metrics: GatewayMetrics;
  /** Closes the connection now if its outgoing buffer is past MAX_CLIENT_BUFFER_BYTES. */
  checkOutgoingBuffer: (socket: RoomcastSocket) => void;
  /** This node's latest status figures, sent to a status page as it connects (only used with ADMIN_TOKEN). */
  latestStatus: () => NodeStatus | null;
  /** The cluster adapter; absent: Socket.IO's in-memory adapter (one node). */
  adapter?: AdapterFactory;
  /** Taps on each namespace's adapter: SSE listeners fed from it, and the sharded adapter's room subscriptions. */
  roomTaps?: RoomTaps;
  /** Resolves once publications of the room made on any node reach this one (see adapter-taps.ts); a join reads the position only then. */
  whenReceiving(namespace: string, room: string): Promise<void>;
  /** The last position of each served room this node saw (Redis only), for what it missed while deaf (reception-recovery.ts). */
  watermarks?: RoomWatermarks;
}

export interface NamespaceContext extends RealtimeDeps {
  rules: NamespaceRules;
  namespace: RoomcastNamespace;
}
