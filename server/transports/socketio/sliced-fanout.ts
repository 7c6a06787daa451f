/**
 * Sliced fan-out: a broadcast that reaches more than LARGE_ROOM_MEMBERS sockets
 * of this node is written to them FANOUT_SLICE_SIZE at a time, with
 * setImmediate between slices, instead of in one synchronous loop.
 *
 * Why: socket.io-adapter's in-memory `broadcast()` encodes the packet once
 * (`_encode`) and then calls `apply(opts, write)`, which loops over every
 * member at once. For a room of 15,000 local members that blocks the event
 * loop for tens of milliseconds per publication, so small rooms' deliveries,
 * HTTP requests and Engine.IO heartbeats wait behind it.
 *
 * Where: every adapter we use ends in that same `broadcast()`: the in-memory
 * one (single node), and the classic and sharded Redis adapters both for
 * their own broadcasts and for the ones received from other nodes (they call
 * `super.broadcast`). Overriding `broadcast` on a subclass would miss the
 * received ones, so this wraps two internals on each adapter instance instead:
 * `_encode`, which only a broadcast calls, marks the `apply` that follows
 * synchronously as a broadcast's; that one `apply` may be deferred, every
 * other (fetchSockets, addSockets, delSockets, disconnectSockets, sockets) runs
 * as before, synchronously. A broadcast with acknowledgements (a packet with
 * an id) is never deferred: it counts its recipients synchronously. This
 * depends on socket.io-adapter 2.5 internals, which is why package.json pins
 * that package to ~2.5.
 *
 * Order: the packet is encoded once, before the first slice. A deferred
 * broadcast goes into a FIFO queue, and so does any later broadcast whose
 * target overlaps one still queued (however small), so each room's messages
 * reach each member in the order they were broadcast. Unrelated small rooms
 * are not queued and are served between slices. The members are read when a
 * broadcast's first slice runs; a socket that disconnected or left the room
 * before its slice is skipped; one that joined meanwhile may or may not get it
 * (the join's history read covers it either way).
 *
 * The internals it wraps are declared in adapter-internals.ts.
 */
import type { BroadcastOptions, Room, SocketId } from 'socket.io-adapter';
import type { AdapterHook, AdapterInternals, Deliver } from './adapter-internals.js';

export interface SlicedFanoutOptions {
  /** A broadcast to more local sockets than this is sliced. */
  largeRoomMembers: number;
  /** Sockets written to per turn of the event loop. */
  sliceSize: number;
  /** A write that threw (it would have thrown into the broadcasting code before). */
  onError?: (error: unknown) => void;
  /**
   * Recipients of a broadcast on this node (for roomcast_deliveries_total), once per broadcast (per slice
   * when sliced). The common case, one room and no exception, reads the room's size: no work per socket.
   */
  onDelivered?: (namespace: string, recipients: number) => void;
}

interface Job {
  rooms: ReadonlySet<Room>;
  except: ReadonlySet<Room>;
  deliver: Deliver;
  /** The sockets to write to, read when the job's first slice runs. */
  ids: SocketId[] | null;
  next: number;
}

/** The hook that makes each namespace's adapter slice large broadcasts (see adapter-internals.ts). */
export function slicedFanout(options: SlicedFanoutOptions): AdapterHook {
  return (adapter) => void new SlicedFanout(adapter, options);
}

class SlicedFanout {
  private nextApplyIsBroadcast = false;
  /** Set by _encode: the apply() that follows writes a broadcast (acknowledged ones included) and is counted. */
  private nextApplyIsEncoded = false;
  private readonly queue: Job[] = [];
  private scheduled = false;
  /** A write may re-enter (a broadcast from an event it caused): the slice in progress goes on, no nested one starts. */
  private running = false;

  constructor(
    private readonly adapter: AdapterInternals,
    private readonly options: SlicedFanoutOptions,
  ) {
    const encode = adapter._encode.bind(adapter);
    const apply = adapter.apply.bind(adapter);
    const close = adapter.close.bind(adapter);
    adapter._encode = (packet, packetOpts) => {
      const encoded = encode(packet, packetOpts);
      // broadcast() calls apply() right after; broadcastWithAck() has set an id and must not be deferred.
      this.nextApplyIsBroadcast = packet.id === undefined;
      this.nextApplyIsEncoded = true;
      return encoded;
    };
    adapter.apply = (opts, callback) => {
      const deferrable = this.nextApplyIsBroadcast;
      const counted = this.nextApplyIsEncoded && this.options.onDelivered !== undefined;
      this.nextApplyIsBroadcast = false;
      this.nextApplyIsEncoded = false;
      if (!deferrable || (!this.overlapsQueued(opts) && this.targetSize(opts) <= this.options.largeRoomMembers)) {
        if (counted) this.applyCounted(apply, opts, callback);
        else apply(opts, callback);
        return;
      }
      this.queue.push({ rooms: new Set(opts.rooms), except: new Set(opts.except ?? []), deliver: callback, ids: null, next: 0 });
      if (!this.scheduled && !this.running) this.runSlice();
    };
    adapter.close = () => {
      this.queue.length = 0;
      return close();
    };
  }

  /**
   * Runs a broadcast's apply() and reports its recipients. One room with no exception (every publication
   * and presence:leave) reaches exactly that room's sockets: its size, read once. Anything else (a
   * presence:join, which skips the joining socket; several rooms) counts the writes through a wrapper made
   * once per broadcast, never per socket.
   */
  private applyCounted(apply: AdapterInternals['apply'], opts: BroadcastOptions, callback: Deliver): void {
    const report = this.options.onDelivered as (namespace: string, recipients: number) => void;
    if (opts.rooms.size === 1 && (opts.except === undefined || opts.except.size === 0)) {
      const [room] = opts.rooms;
      const recipients = this.adapter.rooms.get(room as Room)?.size ?? 0;
      apply(opts, callback);
      report(this.adapter.nsp.name, recipients);
      return;
    }
    let recipients = 0;
    try {
      apply(opts, (socket) => {
        recipients += 1;
        callback(socket);
      });
    } finally {
      report(this.adapter.nsp.name, recipients);
    }
  }

  /** Upper bound of the sockets a broadcast reaches here: the sizes of its rooms (all sockets when none). */
  private targetSize(opts: BroadcastOptions): number {
    if (opts.rooms.size === 0) return this.adapter.sids.size;
    let size = 0;
    for (const room of opts.rooms) size += this.adapter.rooms.get(room)?.size ?? 0;
    return size;
  }

  private overlapsQueued(opts: BroadcastOptions): boolean {
    for (const job of this.queue) {
      if (job.rooms.size === 0 || opts.rooms.size === 0) return true;
      for (const room of opts.rooms) if (job.rooms.has(room)) return true;
    }
    return false;
  }

  /** Writes to up to sliceSize sockets, oldest broadcast first, and schedules the next slice if any is left. */
  private runSlice(): void {
    this.scheduled = false;
    this.running = true;
    try {
      this.writeSlice();
    } finally {
      this.running = false;
    }
    if (this.queue.length > 0) {
      this.scheduled = true;
      setImmediate(() => this.runSlice());
    }
  }

  private writeSlice(): void {
    let budget = this.options.sliceSize;
    while (budget > 0) {
      const job = this.queue[0];
      if (job === undefined) return;
      let written = 0;
      job.ids ??= this.members(job);
      const end = Math.min(job.ids.length, job.next + budget);
      budget -= end - job.next;
      for (; job.next < end; job.next += 1) {
        const id = job.ids[job.next] as SocketId;
        const socket = this.adapter.nsp.sockets.get(id);
        if (socket === undefined || !this.stillTargeted(job, id)) continue;
        try {
          job.deliver(socket);
          written += 1;
        } catch (error) {
          this.options.onError?.(error);
        }
      }
      this.options.onDelivered?.(this.adapter.nsp.name, written);
      if (job.next >= job.ids.length) this.queue.shift();
    }
  }

  /** The sockets of the job's rooms (all when none) minus those of its except rooms, each once. */
  private members(job: Job): SocketId[] {
    const except = new Set<SocketId>();
    for (const room of job.except) for (const id of this.adapter.rooms.get(room) ?? []) except.add(id);
    const ids = new Set<SocketId>();
    const sources = job.rooms.size === 0 ? [this.adapter.sids.keys()] : [...job.rooms].map((room) => this.adapter.rooms.get(room)?.values() ?? []);
    for (const source of sources) for (const id of source) if (!except.has(id)) ids.add(id);
    return [...ids];
  }

  /** False once the socket left every room of the job. */
  private stillTargeted(job: Job, id: SocketId): boolean {
    if (job.rooms.size === 0) return true;
    for (const room of job.rooms) if (this.adapter.rooms.get(room)?.has(id)) return true;
    return false;
  }
}
