/**
 * The churn fault: room hand-overs on one node. Each churn room has a home
 * node where, at any time, exactly one consumer is its member (its "holder");
 * a hand-over makes the holder leave just as another consumer joins, on that
 * same node, so the node's last local member of the room leaves while the next
 * one arrives: the node's interest in the room goes 1 -> 0 -> 1 (or 1 -> 2 -> 1)
 * within milliseconds, with Socket.IO sockets and SSE streams in any mix. With
 * the sharded adapter each such transition is an asynchronous SUNSUBSCRIBE or
 * SSUBSCRIBE of the room's channel; a node left unsubscribed while it still
 * has a member no longer gets what other nodes publish there.
 *
 * The holders: two resident SDK clients of the home node taking turns
 * (leave() / join()), new short-lived SDK clients (connected beforehand, they
 * join at the hand-over and later leave or simply close), fresh SSE streams,
 * and the holder's own SSE stream closed and reopened at once with
 * Last-Event-ID. Witnesses (one SDK client and one SSE stream pinned to other
 * nodes) stay in each churn room all along. Meanwhile some of the regular
 * clients (through NGINX) leave one of their rooms and join it again.
 *
 * Every membership is its own ledger log: what it must have received is
 * judged from its join to its end (see ledger.ts, leaveGraceMs).
 */
import type { Rng } from './rng.js';
import { ChaosSubscriber } from './subscribers.js';
import { SseSubscriber } from './sse-subscribers.js';
import type { ChaosConsumer } from './consumers.js';
import type { Ledger } from './ledger.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface ChurnNode {
  id: string;
  url: string;
}

export interface ChurnOptions {
  rooms: readonly string[];
  /** The gateway nodes (own URLs); index i's current URL (a restarted node keeps its URL). */
  nodes: () => readonly ChurnNode[];
  ledger: Ledger;
  now: () => number;
  rng: Rng;
  token: (id: string) => Promise<string>;
  /** Regular SDK clients (through NGINX) of which some leave and rejoin a room during the fault. */
  regulars: () => readonly ChaosSubscriber[];
  log: (line: string) => void;
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

export interface ChurnStats {
  handovers: number;
  byKind: Record<string, number>;
  regularRejoins: number;
  errors: string[];
}

export class ChurnRooms {
  private readonly options: ChurnOptions;
  private readonly rooms: ChurnRoom[] = [];
  /** Every consumer the churn made, alive or not (for the report's timelines and the cleanup). */
  readonly all: ChaosConsumer[] = [];
  readonly stats: ChurnStats = { handovers: 0, byKind: {}, regularRejoins: 0, errors: [] };

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
        const entry: ChurnRoom = { room, home, residents, holder: { kind: 'resident', consumer: residents[0] }, steps: 0, newClients: 0, newStreams: 0 };
        this.rooms.push(entry);
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

  /** Hand-overs in every churn room for `durationMs`, and rejoins of some regular clients meanwhile. */
  async run(durationMs: number, note: (line: string) => void): Promise<void> {
    const until = Date.now() + durationMs;
    const regulars = this.options.rng.shuffle(this.options.regulars().filter((client) => client.isConnected && client.rooms().length > 0)).slice(0, 6);
    await Promise.all([...this.rooms.map((room) => this.handOverLoop(room, until)), ...regulars.map((client) => this.rejoinLoop(client, until))]);
    note(`${this.stats.handovers} hand-overs (${Object.entries(this.stats.byKind).map(([kind, count]) => `${kind} ${count}`).join(', ')}) in ${this.describe()}; ${this.stats.regularRejoins} leave/join of regular clients (${regulars.map((client) => client.id).join(' ')})`);
    for (const room of this.rooms) note(`${room.room}: held at the end by ${room.holder.consumer.membership(room.room) ?? room.holder.consumer.id} (${room.holder.kind}) on ${this.options.nodes()[room.home]?.id ?? '?'}`);
    if (this.stats.errors.length > 0) note(`errors: ${this.stats.errors.slice(0, 10).join('; ')}`);
  }

  private async handOverLoop(room: ChurnRoom, until: number): Promise<void> {
    const rng = this.options.rng.fork(`churn-${room.room}`);
    while (Date.now() < until) {
      try {
        await this.handOver(room, rng);
      } catch (error) {
        this.stats.errors.push(`${room.room}: ${(error as Error).message}`);
      }
      await sleep(150 + rng.int(550));
    }
  }

  /** One hand-over: the holder leaves just as the next member joins, in a random order a few ms apart. */
  private async handOver(room: ChurnRoom, rng: Rng): Promise<void> {
    room.steps += 1;
    const kinds: HolderKind[] = ['resident', 'new-sdk', 'new-sse'];
    if (room.holder.kind === 'new-sse' || room.holder.kind === 'reopen-sse') kinds.push('reopen-sse', 'reopen-sse');
    const kind = rng.pick(kinds);
    this.stats.byKind[kind] = (this.stats.byKind[kind] ?? 0) + 1;
    this.stats.handovers += 1;
    const previous = room.holder;

    if (kind === 'reopen-sse') {
      // The same stream closed and reopened at once on the same node, resuming with Last-Event-ID.
      (previous.consumer as SseSubscriber).reopen();
      room.holder = { kind, consumer: previous.consumer };
      return;
    }

    // Prepared beforehand, so that only the join itself falls into the hand-over.
    let next: Holder;
    let join: () => Promise<void>;
    if (kind === 'resident') {
      const idle = room.residents.find((resident) => resident !== previous.consumer && resident.rooms().length === 0) ?? room.residents[0];
      if (idle.rooms().includes(room.room)) return;
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
    const delay = rng.int(30);
    const order = rng.pick(['leave-first', 'join-first', 'together'] as const);
    let joined: Promise<void>;
    let left: Promise<void>;
    if (order === 'leave-first') {
      left = leave();
      if (delay > 0) await sleep(delay);
      joined = join();
    } else if (order === 'join-first') {
      joined = join();
      if (delay > 0) await sleep(delay);
      left = leave();
    } else {
      joined = join();
      left = leave();
    }
    room.holder = next;
    const results = await Promise.allSettled([left, joined]);
    for (const result of results) if (result.status === 'rejected') this.stats.errors.push(`${room.room} ${kind}: ${(result.reason as Error).message}`);
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
