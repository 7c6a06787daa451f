/**
 * The node's per-room pub/sub subscriptions (Redis Cluster, sharded channels),
 * driven from what the node serves, one channel at a time.
 *
 * Why not let the sharded adapter do it: it sends SUNSUBSCRIBE when a room's
 * last local member leaves and SSUBSCRIBE when one arrives, without waiting for
 * either to be answered. node-redis removes a channel's listeners only when the
 * SUNSUBSCRIBE reply lands and does not mark the channel as leaving, so a member
 * arriving in between makes the SSUBSCRIBE a no-op ("already subscribed") and
 * the late reply then removes the new listener: the node stays deaf to the room
 * it serves. And nothing tells a joining member when the subscription is active,
 * so a join could read the room's position before it receives the room.
 *
 * Here, per channel:
 * - `want(channel, listener, wanted)` records what the node needs; one worker
 *   per channel brings the subscription to it, one command at a time, so a
 *   subscribe never overlaps an unsubscribe of the same channel, and it loops
 *   until the state matches the latest wish (a wish that changes mid-command is
 *   served when the command returns);
 * - `whenActive(channel)` resolves once the channel is subscribed and its
 *   connection is up (the join handler and SSE read the room's position only
 *   then), or rejects UNAVAILABLE after a deadline;
 * - `reconcile(expected)` compares the channels the node serves with the live
 *   subscriptions the driver reports, repairs every difference and counts it,
 *   so a race nobody has thought of yet cannot leave a room deaf for good.
 *
 * Nothing here knows Socket.IO: the adapter hook (server/transports/socketio/adapter-taps.ts)
 * says which channels are wanted; the driver (sharded-pubsub.ts) talks to Redis.
 */
import type { ChannelListener, RoomChannels } from '../../core/room-channels.js';
import { RoomcastError } from '../../errors.js';

/** What the subscriptions need from a Redis client: subscribing, and reading back what is really subscribed. */
export interface PubSubDriver {
  /** Resolves when Redis confirmed the subscription. */
  subscribe(channel: string, listener: ChannelListener): Promise<void>;
  /** Resolves when Redis confirmed it (or there was nothing to remove). */
  unsubscribe(channel: string, listener: ChannelListener): Promise<void>;
  /** The listener is registered on the channel (whether or not its connection is up right now). */
  hasListener(channel: string, listener: ChannelListener): boolean;
  /** The listener is registered on the channel and the connection carrying it is up now. */
  isLive(channel: string, listener: ChannelListener): boolean;
  /** Every channel the driver holds a subscription of ours for, with our listeners on it (for reconcile). */
  subscribedChannels(): Map<string, Set<ChannelListener>>;
  /** Calls `listener` when a connection (re)becomes ready, so waiters look again; returns its remover. */
  onReady(listener: () => void): () => void;
}

export interface ChannelSubscriptionsOptions {
  /** How long whenActive() waits before answering UNAVAILABLE. */
  activeTimeoutMs?: number;
  /** First and longest pause between retries of a failed command. */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** Told of each difference reconcile() repaired (missing: a wanted channel was not subscribed; extra: the opposite). */
  onRepair?: (kind: 'missing' | 'extra', channel: string) => void;
  onError?: (error: unknown, channel: string) => void;
}

interface ChannelState {
  listener: ChannelListener;
  wanted: boolean;
  /** Subscribed as far as this module knows (the driver may disagree: see reconcile). */
  subscribed: boolean;
  worker: Promise<void> | null;
  failures: number;
  waiters: Set<() => void>;
}

const DEFAULT_ACTIVE_TIMEOUT_MS = 3000;
/** While someone waits for a channel, how often it is looked at again (a connection coming back is also signalled). */
const WAIT_POLL_MS = 50;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

export class ChannelSubscriptions implements RoomChannels {
  private readonly channels = new Map<string, ChannelState>();
  /** Every listener ever given to want(): the driver's other subscriptions (the adapter's own channels, the canary) are not ours. */
  private readonly listeners = new Set<ChannelListener>();
  private readonly activeTimeoutMs: number;
  private readonly retryMinMs: number;
  private readonly retryMaxMs: number;
  private readonly stopReady: () => void;
  private closed = false;

  constructor(
    private readonly driver: PubSubDriver,
    private readonly options: ChannelSubscriptionsOptions = {},
  ) {
    this.activeTimeoutMs = options.activeTimeoutMs ?? DEFAULT_ACTIVE_TIMEOUT_MS;
    this.retryMinMs = options.retryMinMs ?? 50;
    this.retryMaxMs = options.retryMaxMs ?? 2000;
    this.stopReady = driver.onReady(() => {
      for (const state of this.channels.values()) this.wake(state);
    });
  }

  /** Channels wanted now (for tests and diagnostics). */
  get wantedCount(): number {
    let count = 0;
    for (const state of this.channels.values()) if (state.wanted) count += 1;
    return count;
  }

  /** Records whether the node needs `channel`; the subscription follows, one command at a time. */
  want(channel: string, listener: ChannelListener, wanted: boolean): void {
    if (this.closed) return;
    this.listeners.add(listener);
    let state = this.channels.get(channel);
    if (state === undefined) {
      if (!wanted) return;
      state = { listener, wanted, subscribed: false, worker: null, failures: 0, waiters: new Set() };
      this.channels.set(channel, state);
    }
    state.wanted = wanted;
    if (wanted) state.listener = listener;
    this.kick(channel, state);
  }

  /**
   * Resolves once `channel` is subscribed and its connection is up: from then on
   * every publication on it reaches this node. Rejects UNAVAILABLE (retryable)
   * when that does not happen within the deadline, or when nobody wants the
   * channel any more.
   */
  whenActive(channel: string): Promise<void> {
    const state = this.channels.get(channel);
    if (state === undefined || !state.wanted) return Promise.reject(new RoomcastError('UNAVAILABLE', 'the room is not served by this node'));
    if (this.isActive(channel, state)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const finish = (error?: RoomcastError): void => {
        clearTimeout(deadline);
        clearInterval(poll);
        state.waiters.delete(check);
        if (error === undefined) resolve();
        else reject(error);
      };
      const check = (): void => {
        if (this.closed) finish(new RoomcastError('UNAVAILABLE', 'the node is closing'));
        else if (this.channels.get(channel) !== state || !state.wanted) finish(new RoomcastError('UNAVAILABLE', 'the room is not served by this node'));
        else if (this.isActive(channel, state)) finish();
      };
      const deadline = setTimeout(() => finish(new RoomcastError('UNAVAILABLE', 'redis did not confirm the room subscription in time')), this.activeTimeoutMs);
      // A connection coming back is signalled (onReady), but the driver's view can also change without an event.
      const poll = setInterval(check, WAIT_POLL_MS);
      state.waiters.add(check);
      // The driver may have lost the subscription this module believes in (a connection that came back
      // without it): subscribe again rather than wait for the next reconciliation.
      if (state.subscribed && state.worker === null && !this.driver.hasListener(channel, state.listener)) {
        state.subscribed = false;
        this.kick(channel, state);
      }
    });
  }

  /**
   * Makes the live subscriptions match `expected` (channel -> the listener it
   * needs): a channel the node serves that the driver does not hold is
   * subscribed again, one the driver holds that nobody serves is unsubscribed,
   * and a wish this module lost track of is set again. Returns how many channels
   * were repaired; each is also reported to `onRepair`.
   */
  reconcile(expected: ReadonlyMap<string, ChannelListener>): number {
    if (this.closed) return 0;
    const live = this.driver.subscribedChannels();
    let repaired = 0;
    for (const [channel, listener] of expected) {
      const state = this.channels.get(channel);
      const busy = state?.worker !== null && state?.worker !== undefined;
      if (state !== undefined && state.wanted && busy) continue; // being brought in line right now
      if (state !== undefined && state.wanted && live.get(channel)?.has(state.listener) === true) continue;
      // Wanted but not live (or not even known as wanted): subscribe again from scratch.
      repaired += 1;
      this.options.onRepair?.('missing', channel);
      if (state !== undefined) state.subscribed = false;
      this.want(channel, listener, true);
    }
    for (const [channel, state] of this.channels) {
      // Still wanted although the node no longer serves it: a leave this module was not told of.
      if (!state.wanted || expected.has(channel)) continue;
      repaired += 1;
      this.options.onRepair?.('extra', channel);
      this.want(channel, state.listener, false);
    }
    for (const [channel, listeners] of live) {
      if (expected.has(channel) || this.channels.has(channel)) continue;
      // Held by the driver with one of our listeners, yet unknown here: nobody will ever unsubscribe it.
      const ours = [...listeners].filter((listener) => this.listeners.has(listener));
      if (ours.length === 0) continue;
      repaired += 1;
      this.options.onRepair?.('extra', channel);
      for (const listener of ours) void this.driver.unsubscribe(channel, listener).catch((error: unknown) => this.options.onError?.(error, channel));
    }
    return repaired;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopReady();
    for (const state of this.channels.values()) this.wake(state);
    this.channels.clear();
  }

  private isActive(channel: string, state: ChannelState): boolean {
    return state.wanted && state.subscribed && state.worker === null && this.driver.isLive(channel, state.listener);
  }

  private wake(state: ChannelState): void {
    for (const waiter of [...state.waiters]) waiter();
  }

  private kick(channel: string, state: ChannelState): void {
    if (state.worker !== null || this.closed) return;
    if (state.wanted === state.subscribed) {
      this.settle(channel, state);
      return;
    }
    state.worker = this.work(channel, state).finally(() => {
      state.worker = null;
      this.settle(channel, state);
    });
  }

  /** One command at a time until the subscription matches the latest wish. */
  private async work(channel: string, state: ChannelState): Promise<void> {
    while (!this.closed && state.wanted !== state.subscribed) {
      const subscribing = state.wanted;
      const listener = state.listener;
      try {
        if (subscribing) await this.driver.subscribe(channel, listener);
        else await this.driver.unsubscribe(channel, listener);
        state.subscribed = subscribing;
        state.failures = 0;
      } catch (error) {
        this.options.onError?.(error, channel);
        state.failures += 1;
        await sleep(Math.min(this.retryMinMs * 2 ** (state.failures - 1), this.retryMaxMs));
      }
      this.wake(state);
    }
  }

  /** After the worker: waiters look again, and a channel neither wanted nor subscribed is forgotten. */
  private settle(channel: string, state: ChannelState): void {
    this.wake(state);
    if (!state.wanted && !state.subscribed && state.worker === null && state.waiters.size === 0 && this.channels.get(channel) === state) {
      this.channels.delete(channel);
    }
  }
}
