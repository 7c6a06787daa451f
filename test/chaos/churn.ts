/**
 * The churn fault: room hand-overs on one node. Each churn room has a home
 * node where, at any time, exactly one consumer is its member (its "holder");
 * a hand-over makes the holder leave just as another consumer joins, on that
 * same node, so the node's last local member of the room leaves while the next
 * one arrives: the node's interest in the room goes 1 -> 0 -> 1 (or 1 -> 2 -> 1)
 * within a millisecond or so, with Socket.IO sockets and SSE streams in any mix.
 * With the sharded adapter each transition is an asynchronous SUNSUBSCRIBE or
 * SSUBSCRIBE of the room's channel; a node left unsubscribed while it still
 * has a member no longer gets what other nodes publish there.
 *
 * The holders: two resident SDK clients of the home node taking turns
 * (leave() / join()), new short-lived SDK clients (connected beforehand, they
 * join at the hand-over and later leave or simply close), fresh SSE streams,
 * and the holder's own SSE stream closed and reopened at once with
 * Last-Event-ID. The two sides of a hand-over are a few hundred microseconds
 * to a few milliseconds apart, in either order, where the gateway's own
 * asynchronous steps (the presence store's round trips before a join enters
 * the room, the unsubscribe's round trip) overlap.
 *
 * After each hand-over, a check: one publication in the room through another
 * node, which the holder must receive within `checkMs`. The publishers leave
 * the churn rooms alone during the fault, so nothing published on the home
 * node can reveal a missed publication and have it filled from history: a
 * holder on a node that no longer hears the room stalls, and the stall names
 * the hand-over that caused it. (A stream or a join reads the room's position
 * only once its node receives the room, and reads history by itself only when a
 * live message reveals a gap.) Witnesses (one SDK client and one SSE stream
 * pinned to other nodes) stay in each churn room all along. Meanwhile some of the regular clients (through NGINX) leave one of
 * their rooms and join it again.
 *
 * Every membership is its own ledger log: what it must have received is
 * judged from its join to its end (see ledger.ts, leaveGraceMs).
 */
import type { Rng } from './rng.js';
import { ChaosSubscriber } from './subscribers.js';
import { SseSubscriber } from './sse-subscribers.js';
import type { ChaosConsumer } from './consumers.js';
import type { Ledger, PublishRecord } from './ledger.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export interface ChurnNode {
  id: string;
  url: string;
}

export interface ChurnOptions {
  rooms: readonly string[];
  /** The gateway nodes (own URLs; a restarted node keeps its URL). */
  nodes: () => readonly ChurnNode[];
  ledger: Ledger;
  now: () => number;
  rng: Rng;
  token: (id: string) => Promise<string>;
  /** Regular SDK clients (through NGINX) of which some leave and rejoin a room during the fault. */
  regulars: () => readonly ChaosSubscriber[];
  /** One publication in `room` through node `nodeId` (settled: answered, or retried elsewhere). */
  publishVia: (nodeId: string, room: string) => Promise<PublishRecord>;
  /** The publishers stop (true) or resume (false) publishing in the churn rooms. */
  pausePublishers: (paused: boolean) => void;
  /** How long a holder has to receive a check publication. */
  checkMs: number;
}

type HolderKind = 'resident' | 'new-sdk' | 'new-sse' | 'reopen-sse';

interface Holder {
  kind: HolderKind;
  consumer: ChaosSubscriber | SseSubscriber;
}

interface ChurnRoom {
  room: string;
  home: number;
  residents: [ChaosSubscriber, ChaosSubscriber];
  holder: Holder;
  steps: number;
  newClients: number;
  newStreams: number;
}

/** One hand-over and its check. */
export interface HandOver {
  room: string;
  node: string;
  step: number;
  at: number;
  /** previous holder -> next holder (membership ids), their kinds, which went first and how far apart. */
  from: string;
  to: string;
  kind: HolderKind;
  order: string;
  /** The check: published through `via`, received by the holder after `ms` (null: not within checkMs). */
  via?: string;
  offset?: number;
  ms?: number | null;
  /** Where the holder stood when the check gave up. */
  stuckAt?: string;
}

export interface ChurnStats {
  handovers: number;
  byKind: Record<string, number>;
  checks: number;
  /** Hand-overs whose check publication did not reach the holder in time. */
  stalls: HandOver[];
  /** The slowest check that passed. */
  slowestCheckMs: number;
  regularRejoins: number;
  errors: string[];
  /** The last hand-overs of each room (for the report). */
  recent: HandOver[];
}

export class ChurnRooms {
  private readonly options: ChurnOptions;
  private readonly rooms: ChurnRoom[] = [];
  /** Every consumer the churn made, alive or not (for the report's timelines and the cleanup). */
  readonly all: ChaosConsumer[] = [];
  readonly stats: ChurnStats = { handovers: 0, byKind: {}, checks: 0, stalls: [], slowestCheckMs: 0, regularRejoins: 0, errors: [], recent: [] };

  constructor(options: ChurnOptions) {
    this.options = options;
  }

  /** The rooms' home nodes, for the log. */
  describe(): string {
    const nodes = this.options.nodes();
    return this.rooms.map((room) => `${room.room}@${nodes[room.home]?.id ?? '?'}`).join(', ');
  }

  /** Each room gets a home node (round robin from a seeded start), two residents there (one holds the room) and witnesses elsewhere. */
  async setup(): Promise<void> {
    const nodes = this.options.nodes();
    const first = this.options.rng.int(nodes.length);
    await Promise.all(
      this.options.rooms.map(async (room, index) => {
        const home = (first + index) % nodes.length;
        const tag = room.split(':').pop() ?? room;
        const residents = [await this.sdk(`${tag}-a`, home), await this.sdk(`${tag}-b`, home)] as [ChaosSubscriber, ChaosSubscriber];
        await Promise.all(residents.map((resident) => resident.connect()));
        await residents[0].join(room);
        this.rooms.push({ room, home, residents, holder: { kind: 'resident', consumer: residents[0] }, steps: 0, newClients: 0, newStreams: 0 });
        if (nodes.length > 1) {
          // Stable members elsewhere: they see the room's publications whatever happens on the home node.
          const witness = await this.sdk(`${tag}-w`, (home + 1) % nodes.length);
          await witness.connect();
          await witness.join(room);
          const stream = await this.sse(`${tag}-ws`, room, (home + 2) % nodes.length);
          await stream.start();
        }
      }),
    );
    this.rooms.sort((a, b) => a.room.localeCompare(b.room));
  }

  /** Hand-overs (each checked) in every churn room for `durationMs`, and rejoins of some regular clients meanwhile. */
  async run(durationMs: number, note: (line: string) => void): Promise<void> {
    const until = Date.now() + durationMs;
    const regulars = this.options.rng.shuffle(this.options.regulars().filter((client) => client.isConnected && client.rooms().length > 0)).slice(0, 6);
    const stallsBefore = this.stats.stalls.length;
    const handoversBefore = this.stats.handovers;
    this.options.pausePublishers(true);
    try {
      await Promise.all([...this.rooms.map((room) => this.handOverLoop(room, until)), ...regulars.map((client) => this.rejoinLoop(client, until))]);
    } finally {
      this.options.pausePublishers(false);
    }
    const nodes = this.options.nodes();
    note(
      `${this.stats.handovers - handoversBefore} hand-overs (${Object.entries(this.stats.byKind).map(([kind, count]) => `${kind} ${count}`).join(', ')}) in ${this.describe()}, ` +
        `each checked by a publication through another node: ${this.stats.stalls.length - stallsBefore} stalled (slowest check that passed: ${this.stats.slowestCheckMs} ms); ` +
        `${this.stats.regularRejoins} leave/join of regular clients (${regulars.map((client) => client.id).join(' ')})`,
    );
    for (const stall of this.stats.stalls.slice(stallsBefore, stallsBefore + 10)) note(`STALL ${describeHandOver(stall)}`);
    for (const room of this.rooms) note(`${room.room}: held at the end by ${room.holder.consumer.membership(room.room) ?? room.holder.consumer.id} (${room.holder.kind}) on ${nodes[room.home]?.id ?? '?'}`);
    if (this.stats.errors.length > 0) note(`errors: ${this.stats.errors.slice(0, 10).join('; ')}`);
  }

  private async handOverLoop(room: ChurnRoom, until: number): Promise<void> {
    const rng = this.options.rng.fork(`churn-${room.room}`);
    while (Date.now() < until) {
      try {
        const handOver = await this.handOver(room, rng);
        if (handOver !== null) await this.check(room, handOver);
      } catch (error) {
        this.stats.errors.push(`${room.room}: ${(error as Error).message}`);
      }
      await sleep(20 + rng.int(100));
    }
  }

  /** One hand-over: the holder leaves just as the next member joins, in a random order, from a few hundred µs to a few ms apart. */
  private async handOver(room: ChurnRoom, rng: Rng): Promise<HandOver | null> {
    room.steps += 1;
    const previous = room.holder;
    const sseHolder = previous.consumer instanceof SseSubscriber;
    const kinds: HolderKind[] = ['resident', 'resident', 'new-sdk', 'new-sdk', 'new-sse', 'new-sse', ...(sseHolder ? (['reopen-sse'] as const) : [])];
    const kind = rng.pick(kinds);
    const nodeId = this.options.nodes()[room.home]?.id ?? '?';
    const record: HandOver = { room: room.room, node: nodeId, step: room.steps, at: this.options.now(), from: membershipOf(previous.consumer, room.room), to: '', kind, order: '' };

    if (kind === 'reopen-sse') {
      // The same stream closed and reopened at once on the same node, resuming with Last-Event-ID.
      (previous.consumer as SseSubscriber).reopen();
      record.to = record.from;
      record.order = 'close then reopen';
      this.count(record);
      await waitFor(() => (previous.consumer as SseSubscriber).isConnected, 5_000);
      return record;
    }

    // Prepared beforehand, so that only the join itself falls into the hand-over.
    let next: Holder;
    let join: () => Promise<void>;
    if (kind === 'resident') {
      const idle = room.residents.find((resident) => resident !== previous.consumer && resident.rooms().length === 0);
      if (idle === undefined) return null;
      next = { kind, consumer: idle };
      join = () => idle.join(room.room);
    } else if (kind === 'new-sdk') {
      room.newClients += 1;
      const client = await this.sdk(`${room.room.split(':').pop() ?? ''}-n${room.newClients}`, room.home);
      await client.connect();
      next = { kind, consumer: client };
      join = () => client.join(room.room);
    } else {
      room.newStreams += 1;
      const stream = await this.sse(`${room.room.split(':').pop() ?? ''}-s${room.newStreams}`, room.room, room.home);
      next = { kind, consumer: stream };
      join = () => stream.start();
    }
    const leave = (): Promise<void> => this.release(previous, room.room, rng);
    // The gap between the two sides: 0-20 event-loop turns (tens of µs each) or 1-3 ms, now and then up to 30 ms.
    const roll = rng.next();
    const gapMs = roll < 0.6 ? 0 : roll < 0.9 ? 1 + rng.int(3) : 4 + rng.int(27);
    const turns = gapMs === 0 ? rng.int(21) : 0;
    const wait = async (): Promise<void> => {
      if (gapMs > 0) await sleep(gapMs);
      else for (let turn = 0; turn < turns; turn += 1) await tick();
    };
    const joinFirst = rng.next() < 0.5;
    record.order = `${joinFirst ? 'join' : 'leave'} first, ${gapMs > 0 ? `${gapMs} ms` : `${turns} turns`} apart`;
    let joined: Promise<void>;
    let left: Promise<void>;
    if (joinFirst) {
      joined = join();
      await wait();
      left = leave();
    } else {
      left = leave();
      await wait();
      joined = join();
    }
    room.holder = next;
    const results = await Promise.allSettled([left, joined]);
    record.to = membershipOf(next.consumer, room.room);
    this.count(record);
    let ok = true;
    for (const result of results) {
      if (result.status === 'rejected') {
        ok = false;
        this.stats.errors.push(`${room.room} ${kind}: ${(result.reason as Error).message}`);
      }
    }
    return ok ? record : null;
  }

  /** A publication through another node than the room's home: the holder must receive it within checkMs. */
  private async check(room: ChurnRoom, record: HandOver): Promise<void> {
    const holder = room.holder.consumer;
    const nodes = this.options.nodes();
    const others = nodes.filter((_, index) => index !== room.home);
    const via = (others.length > 0 ? others[room.steps % others.length] : nodes[room.home]) as ChurnNode;
    const publication = await this.options.publishVia(via.id, room.room);
    if (publication.outcome !== 'published' || publication.epoch === undefined || publication.offset === undefined) return;
    record.via = via.id;
    record.offset = publication.offset;
    this.stats.checks += 1;
    const started = Date.now();
    const target = { epoch: publication.epoch, offset: publication.offset };
    const reached = (): boolean => {
      const position = holder.position(room.room);
      return position !== undefined && position.epoch === target.epoch && position.offset >= target.offset;
    };
    await waitFor(reached, this.options.checkMs);
    if (reached()) {
      record.ms = Date.now() - started;
      this.stats.slowestCheckMs = Math.max(this.stats.slowestCheckMs, record.ms);
    } else {
      record.ms = null;
      const position = holder.position(room.room);
      record.stuckAt = position === undefined ? 'none' : `${position.epoch}:${position.offset}`;
      this.stats.stalls.push(record);
    }
  }

  private count(record: HandOver): void {
    this.stats.handovers += 1;
    this.stats.byKind[record.kind] = (this.stats.byKind[record.kind] ?? 0) + 1;
    this.stats.recent.push(record);
    if (this.stats.recent.length > 200) this.stats.recent.shift();
  }

  /** The previous holder goes: a resident leaves (and stays connected), a short-lived client leaves or closes, a stream closes. */
  private async release(holder: Holder, room: string, rng: Rng): Promise<void> {
    if (holder.consumer instanceof SseSubscriber) {
      await holder.consumer.closeAndEnd();
      return;
    }
    if (holder.kind === 'resident') {
      await holder.consumer.leave(room);
      return;
    }
    // A short-lived client: leave() then close, or just close (its socket leaves every room on disconnect).
    if (rng.next() < 0.5) await holder.consumer.leave(room);
    holder.consumer.closeAndEnd();
  }

  /** A regular client leaves one of its rooms and joins it again a moment later, a few times. */
  private async rejoinLoop(client: ChaosSubscriber, until: number): Promise<void> {
    const rng = this.options.rng.fork(`rejoin-${client.id}`);
    while (Date.now() < until) {
      await sleep(500 + rng.int(2_000));
      const rooms = client.rooms();
      if (rooms.length === 0 || !client.isConnected) continue;
      const room = rng.pick(rooms);
      try {
        const left = client.leave(room);
        const pause = rng.int(200);
        if (pause > 0) await sleep(pause);
        await Promise.all([left, client.join(room)]);
        this.stats.regularRejoins += 1;
      } catch (error) {
        this.stats.errors.push(`${client.id} rejoin ${room}: ${(error as Error).message}`);
      }
    }
  }

  private async sdk(id: string, node: number): Promise<ChaosSubscriber> {
    const target = this.options.nodes()[node];
    if (target === undefined) throw new Error(`no node ${node}`);
    const client = new ChaosSubscriber({
      id,
      url: target.url,
      token: await this.options.token(id),
      rooms: [],
      transport: this.options.rng.next() < 0.5 ? 'websocket' : 'default',
      ledger: this.options.ledger,
      now: this.options.now,
      pinnedNode: target.id,
    });
    this.all.push(client);
    return client;
  }

  private async sse(id: string, room: string, node: number): Promise<SseSubscriber> {
    const target = this.options.nodes()[node];
    if (target === undefined) throw new Error(`no node ${node}`);
    const stream = new SseSubscriber({ id, url: target.url, token: await this.options.token(id), room, ledger: this.options.ledger, now: this.options.now, pinnedNode: target.id });
    this.all.push(stream);
    return stream;
  }
}

export function describeHandOver(record: HandOver): string {
  return (
    `${record.room} on ${record.node}, hand-over #${record.step} at ${(record.at / 1000).toFixed(2)} s: ${record.from} -> ${record.to} (${record.kind}, ${record.order}); ` +
    `check via ${record.via ?? '?'} offset ${record.offset ?? '?'}: ${record.ms === null || record.ms === undefined ? `not received, holder at ${record.stuckAt ?? '?'}` : `${record.ms} ms`}`
  );
}

function membershipOf(consumer: ChaosConsumer, room: string): string {
  return consumer.membership(room) ?? consumer.id;
}

async function waitFor(predicate: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate() && Date.now() < deadline) await sleep(5);
}
