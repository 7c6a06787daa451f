/**
 * Model-based test of RoomStream: arbitrary interleavings of live messages (any
 * order, duplicates, late ones of dead epochs), join acks and history answers
 * (late, out of order, failing), trimming, epoch changes and lost writes on the
 * server, disconnects and rejoins, checked against a small reference model of the
 * delivery contract: a fake server holding the room's log, answering from its
 * state when the request reached it (so an answer may be overtaken by later live
 * messages) or when the answer is given, as the gateway does (docs/protocol.md).
 *
 * Properties:
 * - within each segment (the first join, then each epoch switch or restart) the
 *   application sees every offset exactly once, in order, either delivered or
 *   inside a gap event: no duplicate, no reordering, no gap over a delivered
 *   offset, no silent hole;
 * - every delivered message is the server's publication at that epoch and offset
 *   (never one whose offset the server lost and handed out again);
 * - every gap is justified: none covers an offset not published yet in its epoch,
 *   an `expired` one covers no offset the server still holds, and an epoch switch
 *   follows an answer of that epoch (never the word of a live message);
 * - at quiescence (timers run, requests answered, every publication of the
 *   current epoch delivered live at least once, as the wire does for a connected
 *   client) the stream stands at the server's head, with nothing held.
 *
 * Deterministic: a fixed seed (ROOMCAST_MODEL_SEED to change it, ROOMCAST_MODEL_RUNS
 * for more runs); fast-check prints the seed and the shrunk counterexample on failure.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type { HistoryResult, JoinResult, Message, StreamPosition } from '../../shared/index.js';
import { RoomcastError } from '../../client/errors.js';
import { RoomStream } from '../../client/room-stream.js';
import type { GapEvent } from '../../client/room-stream-types.js';
import { FakeScheduler } from '../support/fake-scheduler.js';

const ROOM = 'model:room';
const WINDOW = 250;
const PAGE_SIZE = 3;
/** A join ack's missed[] is capped like the gateway's RECOVERY_MAX_MESSAGES, only smaller. */
const RECOVERY_CAP = 4;
const SEED = Number(process.env.ROOMCAST_MODEL_SEED ?? 20_251_111);
const RUNS = Number(process.env.ROOMCAST_MODEL_RUNS ?? 1000);

/** What an answer is made from: the room's state at some moment. */
interface RoomState {
  epoch: string;
  head: number;
  /** Retained entries, contiguous, oldest first. */
  log: readonly Message[];
}

/** room:history as the gateway answers it; `cap` stands for the page byte cap (at least one message). */
function historyAnswer(state: RoomState, since: StreamPosition, limit: number, cap: number): HistoryResult {
  const { epoch, head, log } = state;
  const base = { room: ROOM, epoch, offset: head };
  const page = (messages: readonly Message[]) => messages.slice(0, Math.max(1, Math.min(limit, cap)));
  if (since.epoch !== epoch) return { ...base, recovered: false, messages: page(log) };
  if (since.offset >= head) return { ...base, recovered: since.offset === head, messages: [] };
  const firstRetained = log[0]?.offset ?? head + 1;
  if (since.offset + 1 < firstRetained) return { ...base, recovered: false, messages: page(log) };
  return { ...base, recovered: true, messages: page(log.filter((message) => message.offset > since.offset)) };
}

function joinAck(state: RoomState, since: StreamPosition | undefined, cap: number): JoinResult {
  if (since === undefined) return { room: ROOM, epoch: state.epoch, offset: state.head, recovered: true, missed: [] };
  const read = historyAnswer(state, since, RECOVERY_CAP, cap);
  return { room: ROOM, epoch: read.epoch, offset: read.offset, recovered: read.recovered, missed: read.messages };
}

/** The room on the gateway: the current epoch's log with retention, and every publication ever made. */
class ModelServer implements RoomState {
  epoch = 'ep1';
  head = 0;
  /** Retained entries of the current epoch, contiguous, oldest first. */
  log: Message[] = [];
  /** Every publication of the current epoch up to head, trimmed or not (what the wire may still carry). */
  current: Message[] = [];
  /** Everything ever broadcast and not lost: any of it may reach the client late, any number of times. */
  readonly wire: Message[] = [];
  private readonly lost = new Set<Message>();
  private readonly published = new Set<Message>();
  /** Highest offset ever published in each epoch (lost writes included: those offsets existed). */
  private readonly highest = new Map<string, number>();
  private epochs = 1;
  private nextId = 1;

  constructor(private readonly historySize: number) {}

  publish(): void {
    this.head += 1;
    const message: Message = { room: ROOM, event: 'chat', data: { id: this.nextId++ }, offset: this.head, epoch: this.epoch, ts: this.head };
    this.log.push(message);
    if (this.log.length > this.historySize) this.log.shift();
    this.current.push(message);
    this.wire.push(message);
    this.published.add(message);
    this.highest.set(this.epoch, Math.max(this.head, this.highest.get(this.epoch) ?? 0));
  }

  /** Why a gap reported now is wrong, if it is. */
  gapProblem(gap: GapEvent): string | undefined {
    if (gap.to === null) return undefined;
    if (gap.to > (this.highest.get(gap.epoch) ?? 0)) return 'covers offsets not published yet';
    const firstRetained = this.log[0]?.offset ?? this.head + 1;
    if (gap.reason === 'expired' && gap.epoch === this.epoch && gap.to >= firstRetained) return 'says expired, history holds it';
    return undefined;
  }

  trim(count: number): void {
    this.log.splice(0, count);
  }

  /** The room's history was lost (Redis flushed): a new epoch from offset 0. */
  newEpoch(): void {
    this.epochs += 1;
    this.epoch = `ep${this.epochs}`;
    this.head = 0;
    this.log = [];
    this.current = [];
  }

  /** Acknowledged writes lost (restart from an older snapshot) in the same epoch: back to `head`. */
  loseWritesAfter(head: number): void {
    for (const message of this.current.slice(head)) this.lost.add(message);
    this.current = this.current.slice(0, head);
    this.log = this.log.filter((message) => message.offset <= head);
    this.head = head;
    for (let i = this.wire.length - 1; i >= 0; i--) if (this.lost.has(this.wire[i] as Message)) this.wire.splice(i, 1);
  }

  /** A genuine publication the server has not lost (lost offsets get handed out again). */
  isValid(message: Message): boolean {
    return this.published.has(message) && !this.lost.has(message);
  }

  snapshot(): RoomState {
    return { epoch: this.epoch, head: this.head, log: [...this.log] };
  }
}

type Op =
  | { kind: 'publish'; count: number }
  | { kind: 'deliver'; back: number }
  | { kind: 'deliverStale'; index: number }
  | { kind: 'trim'; count: number }
  | { kind: 'newEpoch' }
  | { kind: 'answerHistory'; index: number; cap: number; early: boolean }
  | { kind: 'failHistory'; index: number; retryable: boolean }
  | { kind: 'advance'; ms: number }
  | { kind: 'disconnect' }
  | { kind: 'connect' }
  | { kind: 'answerJoin'; cap: number; early: boolean }
  | { kind: 'settle' }
  | { kind: 'loseWrites'; count: number };

type Seen = { kind: 'start'; epoch: string; offset: number } | { kind: 'deliver'; message: Message } | { kind: 'gap'; gap: GapEvent };

interface PendingRead {
  since: StreamPosition;
  limit: number;
  /** The room when the request reached the gateway. */
  early: RoomState;
  resolve(result: HistoryResult): void;
  reject(error: RoomcastError): void;
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/** One client's RoomStream wired to the model server, the way RoomcastClient wires it to a socket. */
class Harness {
  readonly scheduler = new FakeScheduler();
  readonly seen: Seen[] = [];
  readonly violations: string[] = [];
  readonly reads: PendingRead[] = [];
  /** offline: suspended; joining: a join was sent, its ack not applied; joined. */
  state: 'offline' | 'joining' | 'joined' = 'offline';
  private joinSince: StreamPosition | undefined;
  private joinEarly: RoomState | undefined;
  private switched = false;
  /** Epochs of the answers given during the current step. */
  private answered: string[] = [];
  /** What the wire delivered at least once. */
  private readonly received = new Set<Message>();
  readonly stream: RoomStream;

  constructor(readonly server: ModelServer) {
    this.stream = new RoomStream({
      room: ROOM,
      reorderWindowMs: WINDOW,
      historyPageSize: PAGE_SIZE,
      scheduler: this.scheduler,
      fetchHistory: (since, limit) => new Promise((resolve, reject) => this.reads.push({ since, limit, early: server.snapshot(), resolve, reject })),
      deliver: (message) => {
        if (!server.isValid(message)) this.violations.push(`delivered ${JSON.stringify(message)}, not a publication the server holds`);
        this.seen.push({ kind: 'deliver', message });
      },
      onGap: (gap) => {
        const problem = server.gapProblem(gap);
        if (problem !== undefined) this.violations.push(`gap ${JSON.stringify(gap)} ${problem} (head ${server.epoch}:${server.head})`);
        if (gap.to === null) this.switched = true;
        this.seen.push({ kind: 'gap', gap });
      },
    });
  }

  /** After a step: an epoch switch during it followed an answer of that epoch. */
  checkSwitch(): void {
    const epoch = this.stream.position?.epoch;
    if (this.switched && (epoch === undefined || !this.answered.includes(epoch))) {
      this.violations.push(`switched to ${epoch} with no answer of it (answers: ${this.answered.join(', ') || 'none'})`);
    }
    this.switched = false;
    this.answered = [];
  }

  receive(message: Message): void {
    this.received.add(message);
    this.stream.receive(message);
  }

  connect(): void {
    if (this.state !== 'offline') return;
    this.joinSince = this.stream.beginJoin();
    this.joinEarly = this.server.snapshot();
    this.state = 'joining';
  }

  disconnect(): void {
    this.stream.suspend();
    this.state = 'offline'; // an ack still on its way belongs to the old connection: the client drops it
  }

  answerJoin(cap: number, early = false): void {
    if (this.state !== 'joining') return;
    const since = this.joinSince;
    const ack = joinAck(early && this.joinEarly !== undefined ? this.joinEarly : this.server, since, cap);
    this.answered.push(ack.epoch);
    if (since === undefined) this.seen.push({ kind: 'start', epoch: ack.epoch, offset: ack.offset });
    this.state = 'joined';
    this.stream.completeJoin(ack, since);
  }

  answerRead(index: number, cap: number, early = false): void {
    const [read] = this.reads.splice(index % this.reads.length, 1);
    if (read === undefined) return;
    const answer = historyAnswer(early ? read.early : this.server, read.since, read.limit, cap);
    this.answered.push(answer.epoch);
    read.resolve(answer);
  }

  failRead(index: number, retryable: boolean): void {
    const [read] = this.reads.splice(index % this.reads.length, 1);
    read?.reject(RoomcastError.local(retryable ? 'UNAVAILABLE' : 'FORBIDDEN_ROOM'));
  }

  /** Reconnects if needed, delivers what the wire never delivered, answers everything, runs every timer. */
  async settle(): Promise<void> {
    this.connect();
    this.answerJoin(RECOVERY_CAP);
    await flush();
    this.checkSwitch();
    for (const message of this.server.current) if (!this.received.has(message)) this.receive(message);
    for (let round = 0; round < 100; round++) {
      await flush();
      while (this.reads.length > 0) {
        this.answerRead(0, PAGE_SIZE);
        await flush();
        this.checkSwitch();
      }
      this.scheduler.advance(20_000);
      await flush();
      if (this.reads.length === 0 && this.scheduler.pending === 0) return;
    }
  }

  /** The quiescent stream stands at the server's head, nothing held. */
  checkQuiet(): void {
    expect(this.reads, 'history reads still pending at quiescence').to.have.length(0);
    expect(this.stream.heldCount, 'held').to.equal(0);
    expect(this.stream.asideCount, 'held aside').to.equal(0);
    const position = this.stream.position;
    // A new epoch nobody published in yet cannot be noticed, and needs not be.
    if (position?.epoch !== this.server.epoch && this.server.head === 0) return;
    expect(position).to.deep.equal({ epoch: this.server.epoch, offset: this.server.head });
  }

  /** Each segment covers its offsets exactly once and in order, each delivered or inside a gap. */
  checkSegments(): void {
    expect(this.violations.join('\n'), 'contract violations').to.equal('');
    let epoch: string | undefined;
    let position = 0;
    let started = false;
    for (const event of this.seen) {
      if (event.kind === 'start') {
        expect(started, 'a second first join').to.equal(false);
        [started, epoch, position] = [true, event.epoch, event.offset];
        continue;
      }
      expect(started, 'an event before the first join ack').to.equal(true);
      const eventEpoch = event.kind === 'deliver' ? event.message.epoch : event.gap.epoch;
      epoch ??= eventEpoch; // a segment after a switch begins with the new epoch's first event, at offset 1
      expect(eventEpoch, 'one epoch per segment').to.equal(epoch);
      if (event.kind === 'deliver') {
        expect(event.message.offset, `delivered after ${epoch}:${position}`).to.equal(position + 1);
        position += 1;
        continue;
      }
      const { gap } = event;
      expect(gap.from, `gap ${JSON.stringify(gap)} after ${epoch}:${position}`).to.equal(position + 1);
      if (gap.to === null) {
        expect(gap.reason).to.equal('epoch-changed');
        [epoch, position] = [undefined, 0];
      } else {
        expect(gap.to).to.be.at.least(gap.from);
        position = gap.to;
      }
    }
  }
}

async function run(historySize: number, ops: readonly Op[]): Promise<void> {
  const server = new ModelServer(historySize);
  const t = new Harness(server);
  t.connect();
  for (const op of ops) {
    switch (op.kind) {
      case 'publish':
        for (let i = 0; i < op.count; i++) server.publish();
        break;
      case 'deliver': {
        const message = server.wire[server.wire.length - 1 - (op.back % Math.max(1, Math.min(server.wire.length, 8)))];
        if (message !== undefined) t.receive(message);
        break;
      }
      case 'deliverStale': {
        const message = server.wire[op.index % Math.max(1, server.wire.length)];
        if (message !== undefined) t.receive(message);
        break;
      }
      case 'trim':
        server.trim(op.count);
        break;
      case 'newEpoch':
        server.newEpoch();
        break;
      case 'answerHistory':
        if (t.reads.length > 0) t.answerRead(op.index, op.cap, op.early);
        break;
      case 'failHistory':
        if (t.reads.length > 0) t.failRead(op.index, op.retryable);
        break;
      case 'advance':
        t.scheduler.advance(op.ms);
        break;
      case 'disconnect':
        t.disconnect();
        break;
      case 'connect':
        t.connect();
        break;
      case 'answerJoin':
        t.answerJoin(op.cap, op.early);
        break;
      case 'settle':
        await t.settle();
        t.checkQuiet();
        break;
      case 'loseWrites': {
        // Redis restarts from an older snapshot while the client is caught up; the connection drops
        // and the client rejoins before anything else is published. (Later publications would reuse the
        // lost offsets unnoticed by any client: the gateway must then change the epoch itself.)
        await t.settle();
        t.checkQuiet();
        if (server.head === 0 || t.stream.position?.epoch !== server.epoch) break;
        server.loseWritesAfter(Math.max(0, server.head - op.count));
        t.disconnect();
        t.connect();
        t.answerJoin(RECOVERY_CAP);
        await flush();
        t.checkSwitch();
        break;
      }
    }
    await flush();
    t.checkSwitch();
  }
  await t.settle();
  t.checkQuiet();
  t.checkSegments();
}

const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('publish' as const), count: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 10, arbitrary: fc.record({ kind: fc.constant('deliver' as const), back: fc.oneof(fc.constant(0), fc.nat(7)) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('deliverStale' as const), index: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('trim' as const), count: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'newEpoch' as const }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('answerHistory' as const), index: fc.nat(3), cap: fc.integer({ min: 1, max: PAGE_SIZE }), early: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('failHistory' as const), index: fc.nat(3), retryable: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 3000 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'disconnect' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'connect' as const }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('answerJoin' as const), cap: fc.integer({ min: 1, max: RECOVERY_CAP }), early: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'settle' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('loseWrites' as const), count: fc.integer({ min: 1, max: 6 }) }) },
);

describe('RoomStream against a model of the delivery contract', () => {
  it('delivers each offset once and in order or reports it, whatever the wire, the server and the connection do', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 8 }), fc.array(opArbitrary, { maxLength: 80, size: 'max' }), (historySize, ops) => run(historySize, ops)),
      { seed: SEED, numRuns: RUNS },
    );
  });
});
