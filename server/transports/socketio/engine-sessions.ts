/**
 * What this node counts for each Engine.IO session (one transport connection,
 * whatever its namespaces), given back exactly once when it closes: its client
 * address (MAX_CONNECTIONS_PER_IP), its node-wide slot (MAX_CONNECTIONS, taken by
 * its first authenticated namespace), and the Sessions of namespace CONNECTs
 * admitted but not connected yet (Socket.IO drops a socket whose transport
 * closes in between without a 'disconnect' event, so only the close can give
 * their count back).
 *
 * One small record per session and ONE shared 'close' listener: no closure,
 * once-wrapper or bound function per connection.
 */
import type { Session, Sessions } from '../../core/session.js';
import type { HandshakeCredentials } from '../../core/session.js';

/** What a cookie session is asked about: kept from the session's first request, which is let go early (see realtime-server.ts). */
export type HandshakeFacts = Pick<HandshakeCredentials, 'headers' | 'ip'>;

interface EngineSessionRecord {
  address: string;
  /** Holds a node-wide slot (released at close). */
  slot: boolean;
  /** Admitted namespace sessions not yet connected (usually none; one while a CONNECT completes). */
  pending: Session[] | null;
  /** Only with a connect proxy (CONNECT_PROXY_URL). */
  facts: HandshakeFacts | null;
}

type EngineConnection = { on(event: 'close', listener: (this: object) => void): unknown };

export class EngineSessions {
  private readonly records = new WeakMap<object, EngineSessionRecord>();
  /** Shared by every Engine.IO session; `this` is the closing session (EventEmitter calls listeners so). */
  private readonly onClose: (this: object) => void;

  constructor(private readonly sessions: Sessions) {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the listener's `this` is the connection
    const self = this;
    this.onClose = function (this: object): void {
      self.closed(this);
    };
  }

  /** A new Engine.IO session from `address`: counted until it closes. */
  opened(conn: EngineConnection, address: string, facts: HandshakeFacts | null): void {
    this.records.set(conn, { address, slot: false, pending: null, facts });
    this.sessions.opened(address);
    conn.on('close', this.onClose);
  }

  facts(conn: object): HandshakeFacts | undefined {
    return this.records.get(conn)?.facts ?? undefined;
  }

  /** Whether the session already holds a node-wide slot. */
  holdsSlot(conn: object): boolean {
    return this.records.get(conn)?.slot === true;
  }

  /** Takes the session's node-wide slot (its first authenticated namespace); null when taken, the refusal otherwise. */
  claimSlot(conn: object): ReturnType<Sessions['claimSlot']> {
    const record = this.records.get(conn);
    if (record === undefined) return null;
    if (record.slot) return null;
    const refusal = this.sessions.claimSlot();
    if (refusal === null) record.slot = true;
    return refusal;
  }

  /** A namespace session admitted on `conn`, closed with it unless `connected()` is called first. */
  pending(conn: object, session: Session): void {
    const record = this.records.get(conn);
    if (record === undefined) return;
    (record.pending ??= []).push(session);
  }

  /** The namespace connection started: its own 'disconnect' closes the session from now on. */
  connected(conn: object, session: Session): void {
    const record = this.records.get(conn);
    if (record === undefined || record.pending === null) return;
    const index = record.pending.indexOf(session);
    if (index >= 0) record.pending.splice(index, 1);
    if (record.pending.length === 0) record.pending = null;
  }

  private closed(conn: object): void {
    const record = this.records.get(conn);
    if (record === undefined) return;
    this.records.delete(conn);
    this.sessions.closed(record.address);
    if (record.slot) this.sessions.releaseSlot();
    if (record.pending !== null) for (const session of record.pending) session.close();
  }
}
