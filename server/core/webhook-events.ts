/**
 * Makes webhook events of what happens on this node and queues them
 * (WebhookQueue): Membership's transitions and changes become `room.occupied`,
 * `room.vacated`, `member.joined`, `member.left`; client publications in a
 * namespace whose rule `webhookPublications` is on become `publication`.
 * WEBHOOK_EVENTS filters the types. Each event gets a random id, which it keeps
 * across every retry: receivers dedupe by it.
 *
 * Membership emits synchronously, the queue answers asynchronously: events are
 * buffered here and appended by one flush at a time, in the order they
 * happened, so a room's `room.occupied` stays before its `member.joined`. When
 * the queue cannot take them (Redis away), they wait here and the flush is
 * tried again; past MAX_BUFFERED the oldest are dropped and counted.
 */
import type { WebhookEvent, WebhookEventType } from '../../shared/index.js';
import type { NamespaceRules } from '../config/namespaces.js';
import type { Logger } from '../ops/logger.js';
import type { MemberChange, MemberLeft, Membership, RoomRef } from './membership.js';
import type { ClientPublication, Publisher } from './publisher.js';
import type { WebhookQueue } from './webhook-queue.js';

/** Events held while the queue refuses them; beyond, the oldest are dropped (counted, logged). */
export const MAX_BUFFERED = 10_000;
/** Waits between attempts to append while the queue refuses: from the first to the longest. */
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 2_000;
/** On stop, events are still taken until none came for this long... */
const QUIET_MS = 50;
/** ...or this long has passed. */
const STOP_WAIT_MS = 1_000;

export interface WebhookEventsOptions {
  queue: WebhookQueue;
  /** WEBHOOK_EVENTS. */
  types: readonly WebhookEventType[];
  namespaces: readonly NamespaceRules[];
  logger: Logger;
  /** Told of the events appended to the queue (metrics; the local dispatcher's wake-up). */
  onQueued?: (events: readonly WebhookEvent[]) => void;
  /** Told of events dropped because the queue refused them for too long. */
  onDropped?: (count: number) => void;
  /** Events held while the queue refuses them (default MAX_BUFFERED). */
  maxBuffered?: number;
}

type Draft<E extends WebhookEvent = WebhookEvent> = E extends WebhookEvent ? Omit<E, 'id' | 'ts'> : never;

export class WebhookEvents {
  private readonly types: ReadonlySet<WebhookEventType>;
  private readonly publishingNamespaces: ReadonlySet<string>;
  private buffered: WebhookEvent[] = [];
  private flushing: Promise<void> | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryMs = RETRY_MIN_MS;
  private readonly detach: Array<() => void> = [];
  private stopped = false;
  /** Events made so far (stop() waits until it stops moving). */
  private added = 0;

  constructor(private readonly options: WebhookEventsOptions) {
    this.types = new Set(options.types);
    this.publishingNamespaces = new Set(options.namespaces.filter((rules) => rules.webhookPublications).map((rules) => rules.name));
  }

  /** Listens to Membership (and to the Publisher's client publications when a namespace sends them). */
  attach(membership: Membership, publisher?: Publisher): void {
    const occupied = ({ namespace, room }: RoomRef): void => this.add({ type: 'room.occupied', namespace, room });
    const vacated = ({ namespace, room }: RoomRef): void => this.add({ type: 'room.vacated', namespace, room });
    const joined = ({ namespace, room, member }: MemberChange): void =>
      this.add({ type: 'member.joined', namespace, room, user: member.userId, connectionId: member.connectionId, nodeId: member.nodeId });
    const left = ({ namespace, room, member, reason }: MemberLeft): void =>
      this.add({ type: 'member.left', namespace, room, user: member.userId, connectionId: member.connectionId, nodeId: member.nodeId, reason });
    membership.on('occupied', occupied);
    membership.on('vacated', vacated);
    membership.on('joined', joined);
    membership.on('left', left);
    this.detach.push(() => {
      membership.off('occupied', occupied);
      membership.off('vacated', vacated);
      membership.off('joined', joined);
      membership.off('left', left);
    });
    if (publisher !== undefined && this.types.has('publication') && this.publishingNamespaces.size > 0) {
      this.detach.push(publisher.onClientPublication((publication) => this.published(publication)));
    }
  }

  /**
   * Stops listening and makes a last attempt to append what waits (bounded by the queue's own timeouts).
   * Called as the node closes: its connections' removals (member.left, room.vacated) are still finishing,
   * so it first listens on until no event came for QUIET_MS (at most STOP_WAIT_MS).
   */
  async stop(): Promise<void> {
    const deadline = Date.now() + STOP_WAIT_MS;
    let seen = -1;
    while (seen !== this.added && Date.now() < deadline) {
      seen = this.added;
      await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
    }
    this.stopped = true;
    for (const detach of this.detach.splice(0)) detach();
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    await this.flushing;
    if (this.buffered.length > 0) await this.flush();
  }

  private published({ namespace, message, connectionId }: ClientPublication): void {
    if (!this.publishingNamespaces.has(namespace)) return;
    this.add({
      type: 'publication',
      namespace,
      room: message.room,
      user: message.from ?? '',
      ...(connectionId === undefined ? {} : { connectionId }),
      offset: message.offset,
      epoch: message.epoch,
      event: message.event,
      data: message.data,
    });
  }

  private add(draft: Draft): void {
    if (this.stopped || !this.types.has(draft.type)) return;
    this.buffered.push({ id: crypto.randomUUID(), ts: Date.now(), ...draft } as WebhookEvent);
    this.added += 1;
    this.trim();
    // One flush per turn of the event loop: the events of one change (occupied, joined) go in one append.
    if (this.flushing === null && this.retryTimer === null) this.flushing = Promise.resolve().then(() => this.flush());
  }

  /** Past the buffer's bound the oldest events go (counted, logged). */
  private trim(): void {
    const max = this.options.maxBuffered ?? MAX_BUFFERED;
    if (this.buffered.length <= max) return;
    const dropped = this.buffered.splice(0, this.buffered.length - max);
    this.options.onDropped?.(dropped.length);
    this.options.logger.error({ dropped: dropped.length }, 'webhook events dropped: the queue refused them for too long');
  }

  private async flush(): Promise<void> {
    while (this.buffered.length > 0) {
      const batch = this.buffered;
      this.buffered = [];
      try {
        await this.options.queue.enqueue(batch);
      } catch (error) {
        // Put them back in front of what came meanwhile, and try again later: the order holds.
        this.buffered = [...batch, ...this.buffered];
        this.trim();
        this.options.logger.warn({ err: error, waiting: this.buffered.length }, 'webhook events could not be queued; retrying');
        this.flushing = null;
        if (!this.stopped) {
          this.retryTimer = setTimeout(() => {
            this.retryTimer = null;
            this.flushing = this.flush();
          }, this.retryMs);
          this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
        }
        return;
      }
      this.retryMs = RETRY_MIN_MS;
      this.options.onQueued?.(batch);
    }
    this.flushing = null;
  }
}
