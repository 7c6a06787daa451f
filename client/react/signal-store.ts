/**
 * useSignal's external store: the volatile signals of a room (typing, cursors)
 * as the latest one and the latest per member, and a throttled sender.
 *
 * Signals reach members of the room only, so the first subscriber holds the
 * room (room-memberships.ts) and listens to the client's `signal` events; the
 * last one lets go, and cancels pending throttled sends and the expiry timer.
 * Sends are shaped like RoomcastClient.throttledSignal (the first at once, then
 * at most one per window with the latest data), one throttle per event name;
 * a refusal (RATE_LIMITED, PAYLOAD_TOO_LARGE...) lands in the snapshot's `error`.
 */
import { RoomcastError, throttle, type DefaultEvents, type EventName, type Shaped, type TypedSignal } from '../index.js';
import { realScheduler, type Scheduler, type TimerHandle } from '../scheduler.js';
import type { HookClient } from './hook-client.js';
import { HeldRoomStore, type RoomState } from './held-room-store.js';
import type { RoomMemberships } from './room-memberships.js';

export interface SignalSnapshot<Signals extends object = DefaultEvents> {
  /** The latest signal received (of the event asked for, if one was). */
  readonly last: TypedSignal<Signals> | undefined;
  /** The latest signal of each member, by user id (`signal.from`). */
  readonly byMember: ReadonlyMap<string, TypedSignal<Signals>>;
  /** Where the room's join stands (signals flow once it is `joined`). */
  readonly state: RoomState;
  /** The join's refusal, or the last refused send. */
  readonly error: RoomcastError | undefined;
}

/** The same window as RoomcastClient.throttledSignal. */
export const DEFAULT_SIGNAL_THROTTLE_MS = 80;

export interface SignalStoreOptions {
  /** Only signals of this event (all events when undefined). */
  event?: string | undefined;
  /** At most one send per event per this many ms, the latest data winning. Default 80. */
  throttleMs?: number;
  /** A member's signal is dropped this long after it arrived (e.g. a typing indicator of someone who closed the tab). Default: kept. */
  expireMs?: number;
  scheduler?: Scheduler;
}

export const IDLE_SIGNALS: SignalSnapshot<never> = Object.freeze({ last: undefined, byMember: new Map<string, never>(), state: 'idle', error: undefined });

interface Received<Signals extends object> {
  signal: TypedSignal<Signals>;
  at: number;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any publication map: signals only
type SignalClient<Signals extends object> = HookClient<any, Signals>;

export class SignalStore<Signals extends object = DefaultEvents> extends HeldRoomStore<SignalSnapshot<Signals>> {
  private readonly client: SignalClient<Signals>;
  private readonly event: string | undefined;
  private readonly throttleMs: number;
  private readonly expireMs: number | undefined;
  private readonly scheduler: Scheduler;
  private readonly senders = new Map<string, Shaped<[data: never]>>();
  /** When each member's latest signal (and the latest of all) arrived, for expiry. */
  private received = new Map<string, Received<Signals>>();
  private lastAt = 0;
  private expiryTimer: TimerHandle | undefined;

  constructor(client: SignalClient<Signals>, room: string, memberships: RoomMemberships, options: SignalStoreOptions = {}) {
    super(room, memberships, (held) => ({ last: undefined, byMember: new Map(), ...held }));
    this.client = client;
    this.event = options.event;
    this.throttleMs = options.throttleMs ?? DEFAULT_SIGNAL_THROTTLE_MS;
    this.expireMs = options.expireMs;
    this.scheduler = options.scheduler ?? realScheduler;
  }

  /**
   * Sends a signal to the room's other members, throttled per event. Dropped
   * while nothing is subscribed (the room is not held) and, like
   * RoomcastClient.signal, while offline or before the room is joined.
   */
  readonly send = <K extends EventName<Signals>>(event: K, data: Signals[K]): void => {
    if (!this.held) return;
    let sender = this.senders.get(event) as Shaped<[data: Signals[K]]> | undefined;
    if (sender === undefined) {
      sender = throttle((value: Signals[K]) => this.deliver(event, value), this.throttleMs, { scheduler: this.scheduler });
      this.senders.set(event, sender as Shaped<[data: never]>);
    }
    sender(data);
  };

  private deliver<K extends EventName<Signals>>(event: K, data: Signals[K]): void {
    this.client.signal(this.room, event, data).then(
      (relayed) => {
        if (relayed && this.snapshot.error !== undefined && this.snapshot.state !== 'error') this.update({ error: undefined });
      },
      (error: unknown) => this.update({ error: RoomcastError.from(error, { room: this.room, event: 'room:signal' }) }),
    );
  }

  protected listen(): Array<() => void> {
    this.armExpiry();
    return [
      this.client.on('signal', (signal) => {
        if (signal.room === this.room && (this.event === undefined || signal.event === this.event)) this.receive(signal);
      }),
    ];
  }

  protected override stopListening(): void {
    for (const sender of this.senders.values()) sender.cancel();
    this.senders.clear();
    this.clearExpiry();
  }

  private receive(signal: TypedSignal<Signals>): void {
    const at = this.scheduler.now();
    this.received.set(signal.from, { signal, at });
    this.lastAt = at;
    this.update({ last: signal, byMember: this.byMember() });
    if (this.expireMs !== undefined && this.expiryTimer === undefined) this.armExpiry();
  }

  private byMember(): Map<string, TypedSignal<Signals>> {
    return new Map([...this.received].map(([from, { signal }]) => [from, signal]));
  }

  /** One timer, for the oldest entry; each firing drops what expired and re-arms for the next. */
  private armExpiry(): void {
    const expireMs = this.expireMs;
    if (expireMs === undefined || this.received.size === 0) return;
    const oldest = Math.min(...[...this.received.values()].map((entry) => entry.at));
    this.expiryTimer = this.scheduler.setTimeout(
      () => {
        this.expiryTimer = undefined;
        const now = this.scheduler.now();
        for (const [from, entry] of this.received) if (now - entry.at >= expireMs) this.received.delete(from);
        const last = now - this.lastAt >= expireMs ? undefined : this.snapshot.last;
        this.update({ last, byMember: this.byMember() });
        this.armExpiry();
      },
      Math.max(0, oldest + expireMs - this.scheduler.now()),
    );
  }

  private clearExpiry(): void {
    if (this.expiryTimer === undefined) return;
    this.scheduler.clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
  }
}
