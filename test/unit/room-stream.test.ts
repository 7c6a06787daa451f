import { expect } from 'chai';
import type { HistoryResult, JoinResult, Message, StreamPosition } from '../../shared/index.js';
import { RoomcastError } from '../../client/errors.js';
import { RoomStream } from '../../client/room-stream.js';
import type { GapEvent, RecoveredEvent } from '../../client/room-stream-types.js';
import { FakeScheduler } from '../support/fake-scheduler.js';

const ROOM = 'demo:lobby';
const WINDOW = 250;


function msg(offset: number, epoch = 'e1'): Message {
  return { room: ROOM, event: 'chat', data: { n: offset }, offset, epoch, ts: 1_700_000_000_000 + offset };
}

function range(from: number, to: number, epoch = 'e1'): Message[] {
  const messages: Message[] = [];
  for (let offset = from; offset <= to; offset++) messages.push(msg(offset, epoch));
  return messages;
}

function ack(offset: number, options: Partial<JoinResult> = {}): JoinResult {
  return { room: ROOM, epoch: 'e1', offset, recovered: true, missed: [], ...options };
}

/**
 * The gateway's history of one room, answering as the server's store does: `recovered: false`
 * carries what history still holds of the requested range (the retained tail).
 */
class FakeHistory {
  epoch = 'e1';
  head = 0;
  /** Offsets below this are trimmed. */
  firstRetained = 1;
  failWith: RoomcastError | undefined;
  failuresLeft = 0;
  /** While set, answers (computed when the request arrives, as a gateway does) wait for release(). */
  gated = false;
  readonly calls: { since: StreamPosition; limit: number }[] = [];
  private readonly waiting: Array<() => void> = [];

  publishUpTo(offset: number): void {
    this.head = Math.max(this.head, offset);
  }

  /** Redis lost acknowledged writes: the same epoch is back at an older head. */
  loseWritesAfter(offset: number): void {
    this.head = offset;
  }

  /** Lets the gated answers through, oldest first. */
  release(): void {
    for (const resolve of this.waiting.splice(0)) resolve();
  }

  get waitingCount(): number {
    return this.waiting.length;
  }

  read = async (since: StreamPosition, limit: number): Promise<HistoryResult> => {
    this.calls.push({ since, limit });
    if (this.failWith !== undefined && this.failuresLeft > 0) {
      this.failuresLeft -= 1;
      throw this.failWith;
    }
    const answer = this.answer(since, limit);
    if (this.gated) await new Promise<void>((resolve) => this.waiting.push(resolve));
    return answer;
  };

  answer(since: StreamPosition, limit: number): HistoryResult {
    const base = { room: ROOM, epoch: this.epoch, offset: this.head };
    const retainedFrom = (from: number) => {
      const start = Math.max(from, this.firstRetained);
      return range(start, Math.min(this.head, start + limit - 1), this.epoch);
    };
    if (since.epoch !== this.epoch) return { ...base, recovered: false, messages: retainedFrom(1) };
    if (since.offset >= this.head) return { ...base, recovered: since.offset === this.head, messages: [] };
    if (since.offset + 1 < this.firstRetained) return { ...base, recovered: false, messages: retainedFrom(since.offset + 1) };
    return { ...base, recovered: true, messages: range(since.offset + 1, Math.min(this.head, since.offset + limit), this.epoch) };
  }
}

function setup(options: { historyPageSize?: number } = {}) {
  const scheduler = new FakeScheduler();
  const history = new FakeHistory();
  const delivered: Message[] = [];
  const gaps: GapEvent[] = [];
  const recovered: RecoveredEvent[] = [];
  const errors: RoomcastError[] = [];
  const stream = new RoomStream({
    room: ROOM,
    reorderWindowMs: WINDOW,
    historyPageSize: options.historyPageSize,
    scheduler,
    fetchHistory: history.read,
    deliver: (message) => delivered.push(message),
    onGap: (gap) => gaps.push(gap),
    onRecovered: (event) => recovered.push(event),
    onError: (error) => errors.push(error),
  });
  const offsets = () => delivered.map((message) => `${message.epoch}:${message.offset}`);
  /** Starts a join and completes it with `result`, as the client does with the ack. */
  const join = (result: JoinResult) => {
    const since = stream.beginJoin();
    stream.completeJoin(result, since);
    return since;
  };
  return { scheduler, history, delivered, gaps, recovered, errors, stream, offsets, join };
}

const e1 = (...offsets: number[]) => offsets.map((offset) => `e1:${offset}`);

describe('RoomStream', () => {
  describe('first join', () => {
    it('starts after the ack offset and drops live messages at or below it', () => {
      const t = setup();
      t.stream.beginJoin();
      t.stream.receive(msg(5));
      t.stream.receive(msg(6));
      t.stream.receive(msg(7));
      expect(t.delivered).to.have.length(0); // buffered while the join is in flight
      t.stream.completeJoin(ack(6), undefined);
      expect(t.offsets()).to.deep.equal(e1(7));
      expect(t.stream.position).to.deep.equal({ epoch: 'e1', offset: 7 });
      expect(t.scheduler.pending).to.equal(0);
      expect(t.history.calls).to.have.length(0);
    });

    it('delivers consecutive live messages in order', () => {
      const t = setup();
      t.join(ack(0));
      for (const message of range(1, 5)) t.stream.receive(message);
      expect(t.offsets()).to.deep.equal(e1(1, 2, 3, 4, 5));
    });
  });

  describe('duplicates', () => {
    it('delivers each offset at most once', () => {
      const t = setup();
      t.join(ack(0));
      t.stream.receive(msg(1));
      t.stream.receive(msg(1));
      t.stream.receive(msg(3));
      t.stream.receive(msg(3));
      t.stream.receive(msg(2));
      t.stream.receive(msg(2));
      t.stream.receive(msg(1));
      expect(t.offsets()).to.deep.equal(e1(1, 2, 3));
    });

    it('removes duplicates between missed[] and live messages of a rejoin', () => {
      const t = setup();
      t.join(ack(2));
      const since = t.stream.beginJoin();
      expect(since).to.deep.equal({ epoch: 'e1', offset: 2 });
      t.stream.receive(msg(5)); // live, raced ahead of the ack
      t.stream.receive(msg(6));
      t.stream.completeJoin(ack(5, { missed: range(3, 5) }), since);
      expect(t.offsets()).to.deep.equal(e1(3, 4, 5, 6));
      expect(t.recovered).to.deep.equal([{ room: ROOM, epoch: 'e1', missed: 3 }]);
    });
  });

  describe('reordering', () => {
    it('holds a later offset and delivers it once the gap is filled within the window', () => {
      const t = setup();
      t.join(ack(0));
      t.stream.receive(msg(3));
      t.stream.receive(msg(2));
      expect(t.delivered).to.have.length(0);
      expect(t.stream.heldCount).to.equal(2);
      t.scheduler.advance(WINDOW - 1);
      t.stream.receive(msg(1));
      expect(t.offsets()).to.deep.equal(e1(1, 2, 3));
      expect(t.scheduler.pending).to.equal(0); // the reorder timer was cancelled
      t.scheduler.advance(WINDOW * 4);
      expect(t.history.calls).to.have.length(0);
    });

    it('fetches the gap from history when the window expires', async () => {
      const t = setup();
      t.history.publishUpTo(4);
      t.join(ack(0));
      t.stream.receive(msg(1));
      t.stream.receive(msg(4));
      t.scheduler.advance(WINDOW - 1);
      await t.stream.settled();
      expect(t.history.calls).to.have.length(0);
      t.scheduler.advance(1);
      await t.stream.settled();
      expect(t.history.calls).to.deep.equal([{ since: { epoch: 'e1', offset: 1 }, limit: 2 }]);
      expect(t.offsets()).to.deep.equal(e1(1, 2, 3, 4));
      expect(t.gaps).to.have.length(0);
    });

    it('pages through history until it reaches the lowest held offset', async () => {
      const t = setup({ historyPageSize: 100 });
      t.history.publishUpTo(251);
      t.join(ack(0));
      t.stream.receive(msg(251));
      t.scheduler.advance(WINDOW);
      await t.stream.settled();
      expect(t.history.calls.map((call) => call.since.offset)).to.deep.equal([0, 100, 200]);
      expect(t.history.calls.map((call) => call.limit)).to.deep.equal([100, 100, 50]);
      expect(t.delivered.map((message) => message.offset)).to.deep.equal(range(1, 251).map((message) => message.offset));
    });

    it('keeps duplicates out when a live message arrives during the history read', async () => {
      const t = setup();
      t.history.publishUpTo(5);
      t.join(ack(0));
      t.stream.receive(msg(5));
      t.scheduler.advance(WINDOW);
      t.stream.receive(msg(2)); // late live copy, also in the history page
      await t.stream.settled();
      expect(t.offsets()).to.deep.equal(e1(1, 2, 3, 4, 5));
    });
  });

  describe('gaps history no longer covers', () => {
    it('emits a gap event (never silence) and jumps to the lowest held offset', async () => {
      const t = setup();
      t.history.publishUpTo(6);
      t.history.firstRetained = 5;
      t.join(ack(1));
      t.stream.receive(msg(5));
      t.stream.receive(msg(6));
      t.scheduler.advance(WINDOW);
      await t.stream.settled();
      expect(t.gaps).to.deep.equal([{ room: ROOM, epoch: 'e1', from: 2, to: 4, recovered: false, reason: 'expired' }]);
      expect(t.offsets()).to.deep.equal(e1(5, 6));
      t.stream.receive(msg(7));
      expect(t.offsets()).to.deep.equal(e1(5, 6, 7));
    });

    it('reports a rejoin that history cannot cover and continues from the ack offset', () => {
      const t = setup();
      t.join(ack(2));
      const since = t.stream.beginJoin();
      t.stream.receive(msg(11));
      t.stream.completeJoin(ack(10, { recovered: false }), since);
      expect(t.gaps).to.deep.equal([{ room: ROOM, epoch: 'e1', from: 3, to: 10, recovered: false, reason: 'expired' }]);
      expect(t.offsets()).to.deep.equal(e1(11));
      expect(t.recovered).to.have.length(0);
    });

    it('still delivers held messages inside an unrecoverable range, with gaps around them', () => {
      const t = setup();
      t.join(ack(0));
      t.stream.receive(msg(1));
      t.stream.receive(msg(4)); // held when the connection drops
      t.stream.suspend();
      const since = t.stream.beginJoin();
      t.stream.completeJoin(ack(6, { recovered: false }), since);
      expect(t.offsets()).to.deep.equal(e1(1, 4));
      expect(t.gaps.map((gap) => [gap.from, gap.to])).to.deep.equal([
        [2, 3],
        [5, 6],
      ]);
    });
  });

  describe('epochs', () => {
    it('switches to a new epoch only once a history answer confirms it, then reads it from offset 1', async () => {
      const t = setup();
      t.join(ack(5));
      t.history.epoch = 'e2';
      t.history.publishUpTo(3);
      t.stream.receive(msg(3, 'e2'));
      // A live message is no proof: nothing switches before the server answers.
      expect(t.gaps).to.deep.equal([]);
      expect(t.stream.position).to.deep.equal({ epoch: 'e1', offset: 5 });
      await t.stream.settled(); // the read goes out at once, no reorder window to wait for
      expect(t.history.calls[0]?.since).to.deep.equal({ epoch: 'e1', offset: 5 });
      expect(t.gaps).to.deep.equal([{ room: ROOM, epoch: 'e1', from: 6, to: null, recovered: false, reason: 'epoch-changed' }]);
      expect(t.offsets()).to.deep.equal(['e2:1', 'e2:2', 'e2:3']);
      expect(t.stream.position).to.deep.equal({ epoch: 'e2', offset: 3 });
      expect(t.scheduler.pending).to.equal(0);
    });

    it('a late message of an epoch the stream never had does not retire the current one', async () => {
      const t = setup();
      t.history.publishUpTo(2);
      t.join(ack(0));
      t.stream.receive(msg(7, 'e0')); // from before the room's history was lost, delivered late by a slow node
      t.stream.receive(msg(1));
      t.stream.receive(msg(2));
      await t.stream.settled();
      t.history.publishUpTo(3);
      t.stream.receive(msg(3));
      await t.stream.settled();
      expect(t.offsets()).to.deep.equal(e1(1, 2, 3));
      expect(t.gaps).to.deep.equal([]);
      expect(t.stream.position).to.deep.equal({ epoch: 'e1', offset: 3 });
      expect(t.stream.asideCount).to.equal(0, 'the stale message was dropped once the server answered with e1');
    });

    it('follows the server back to an epoch it left (Redis restored an older snapshot)', async () => {
      const t = setup();
      t.join(ack(2));
      t.history.epoch = 'e2';
      t.history.publishUpTo(1);
      t.stream.receive(msg(1, 'e2'));
      await t.stream.settled();
      expect(t.stream.position).to.deep.equal({ epoch: 'e2', offset: 1 });
      // The snapshot brings e1 back, at its old head.
      t.history.epoch = 'e1';
      t.history.head = 3;
      t.stream.receive(msg(3, 'e1'));
      await t.stream.settled();
      expect(t.offsets()).to.deep.equal(['e2:1', 'e1:1', 'e1:2', 'e1:3']);
      expect(t.gaps.map((gap) => [gap.epoch, gap.from, gap.to, gap.reason])).to.deep.equal([
        ['e1', 3, null, 'epoch-changed'],
        ['e2', 2, null, 'epoch-changed'],
      ]);
    });

    it('keeps a message of another epoch that arrived after the answer saying the epoch is current was made', async () => {
      const t = setup();
      t.history.publishUpTo(2);
      t.join(ack(0));
      t.stream.receive(msg(2));
      t.history.gated = true;
      t.scheduler.advance(WINDOW); // the read is answered with e1
      await Promise.resolve();
      await Promise.resolve();
      // The room's history is lost after the answer was made; the first message of e2 overtakes it.
      t.history.epoch = 'e2';
      t.history.head = 0;
      t.history.publishUpTo(1);
      t.stream.receive(msg(1, 'e2'));
      t.history.gated = false;
      t.history.release();
      await t.stream.settled();
      expect(t.offsets()).to.deep.equal(['e1:1', 'e1:2', 'e2:1']);
      expect(t.gaps.map((gap) => [gap.epoch, gap.from, gap.to])).to.deep.equal([['e1', 3, null]]);
    });

    it('delivers the messages of the new epoch it held aside, even those history no longer holds', async () => {
      const t = setup();
      t.join(ack(5));
      t.history.epoch = 'e2';
      t.history.publishUpTo(3);
      t.history.firstRetained = 3; // e2:1 and e2:2 already trimmed
      t.stream.receive(msg(2, 'e2'));
      t.stream.receive(msg(1, 'e2'));
      await t.stream.settled();
      expect(t.offsets()).to.deep.equal(['e2:1', 'e2:2', 'e2:3']);
      expect(t.gaps.filter((gap) => gap.epoch === 'e2')).to.deep.equal([]);
    });

    it('holds a bounded number of messages of another epoch, and reads the ones it let go from history', async () => {
      const t = setup();
      t.join(ack(5));
      t.history.epoch = 'e2';
      t.history.publishUpTo(1);
      t.history.gated = true;
      t.stream.receive(msg(1, 'e2')); // asks the server at once; its answer will say head 1
      await Promise.resolve();
      await Promise.resolve();
      expect(t.history.waitingCount).to.equal(1);
      t.history.publishUpTo(1000);
      for (let offset = 2; offset <= 1000; offset++) t.stream.receive(msg(offset, 'e2'));
      expect(t.stream.asideCount).to.be.within(1, 300);
      expect(t.delivered).to.have.length(0);
      t.history.gated = false;
      t.history.release();
      await t.stream.settled();
      expect(t.delivered.map((message) => `${message.epoch}:${message.offset}`)).to.deep.equal(
        range(1, 1000, 'e2').map((message) => `e2:${message.offset}`),
      );
      expect(t.gaps.map((gap) => [gap.epoch, gap.from, gap.to])).to.deep.equal([['e1', 6, null]]);
    });

    it('handles an epoch change found by a history read', async () => {
      const t = setup();
      t.join(ack(1));
      t.stream.receive(msg(3)); // e1:3 is held, e1:2 is missing
      t.history.epoch = 'e2';
      t.history.publishUpTo(2);
      t.scheduler.advance(WINDOW);
      await t.stream.settled();
      expect(t.gaps).to.deep.equal([
        { room: ROOM, epoch: 'e1', from: 2, to: 2, recovered: false, reason: 'epoch-changed' },
        { room: ROOM, epoch: 'e1', from: 4, to: null, recovered: false, reason: 'epoch-changed' },
      ]);
      expect(t.offsets()).to.deep.equal(['e1:3', 'e2:1', 'e2:2']);
    });

    it('reads the new epoch after a rejoin whose ack has another epoch', async () => {
      const t = setup();
      t.join(ack(4));
      t.history.epoch = 'e2';
      t.history.publishUpTo(2);
      const since = t.stream.beginJoin();
      t.stream.completeJoin(ack(2, { epoch: 'e2', recovered: false }), since);
      expect(t.gaps).to.deep.equal([{ room: ROOM, epoch: 'e1', from: 5, to: null, recovered: false, reason: 'epoch-changed' }]);
      await t.stream.settled();
      expect(t.offsets()).to.deep.equal(['e2:1', 'e2:2']);
    });

    it('does not apply a history answer requested before an epoch switch to the new epoch', async () => {
      const t = setup();
      t.join(ack(0));
      t.stream.receive(msg(3)); // e1:1 and e1:2 are missing
      // The room's history is lost before the read arrives: the answer is of e2, still empty.
      t.history.epoch = 'e2';
      t.history.gated = true;
      t.scheduler.advance(WINDOW);
      await Promise.resolve();
      await Promise.resolve();
      expect(t.history.waitingCount).to.equal(1);
      // e2:1 is published after the answer was made, and overtakes it.
      t.history.publishUpTo(1);
      t.stream.receive(msg(1, 'e2'));
      t.history.gated = false;
      t.history.release();
      await t.stream.settled();
      t.history.publishUpTo(2);
      t.stream.receive(msg(2, 'e2'));
      await t.stream.settled();
      expect(t.offsets()).to.deep.equal(['e1:3', 'e2:1', 'e2:2']);
      expect(t.gaps.filter((gap) => gap.epoch === 'e2')).to.deep.equal([], 'no gap for offsets of e2 that did not exist yet');
      expect(t.stream.position).to.deep.equal({ epoch: 'e2', offset: 2 });
    });
  });

  describe('lost acknowledged writes (same epoch, head below the delivered position)', () => {
    it('restarts the epoch on a rejoin ack below what was delivered and delivers the new publications', async () => {
      const t = setup();
      t.history.publishUpTo(8);
      t.join(ack(0));
      for (const message of range(1, 8)) t.stream.receive(message);
      // Redis restarts from a snapshot taken at offset 5; the connection drops and comes back.
      t.history.loseWritesAfter(5);
      t.stream.suspend();
      const since = t.stream.beginJoin();
      expect(since).to.deep.equal({ epoch: 'e1', offset: 8 });
      t.history.publishUpTo(6);
      const republished = { ...msg(6), data: { n: 6, again: true } };
      t.stream.receive(republished); // published after the loss, raced ahead of the ack
      t.stream.completeJoin(ack(5, { recovered: false }), since);
      await t.stream.settled();
      expect(t.gaps).to.deep.equal([{ room: ROOM, epoch: 'e1', from: 9, to: null, recovered: false, reason: 'epoch-changed' }]);
      expect(t.history.calls[0]?.since).to.deep.equal({ epoch: 'e1', offset: 0 });
      t.history.publishUpTo(8);
      t.stream.receive(msg(7));
      t.stream.receive(msg(8));
      expect(t.offsets().slice(8)).to.deep.equal(e1(1, 2, 3, 4, 5, 6, 7, 8));
      expect(t.delivered[13]).to.equal(republished);
      expect(t.stream.position).to.deep.equal({ epoch: 'e1', offset: 8 });
    });

    it('restarts the epoch on a history answer below the position it was asked from', async () => {
      const t = setup();
      t.history.publishUpTo(10);
      t.join(ack(0));
      for (const message of range(1, 8)) t.stream.receive(message);
      t.stream.receive(msg(10)); // e1:9 missing
      t.history.loseWritesAfter(5);
      t.scheduler.advance(WINDOW);
      await t.stream.settled();
      expect(t.gaps.map((gap) => [gap.from, gap.to, gap.reason])).to.deep.equal([
        [9, 9, 'epoch-changed'],
        [11, null, 'epoch-changed'],
      ]);
      t.history.publishUpTo(6);
      t.stream.receive(msg(6));
      await t.stream.settled();
      expect(t.offsets().slice(9)).to.deep.equal(e1(1, 2, 3, 4, 5, 6));
    });

    it('does not mistake a history answer overtaken by live messages for lost writes', async () => {
      const t = setup();
      t.history.publishUpTo(5);
      t.join(ack(0));
      t.stream.receive(msg(1));
      t.stream.receive(msg(3));
      t.history.gated = true;
      t.scheduler.advance(WINDOW); // asks from e1:1, the answer says head 5
      await Promise.resolve();
      await Promise.resolve();
      t.history.publishUpTo(8);
      for (const message of range(2, 8)) t.stream.receive(message); // live, ahead of the answer
      t.history.gated = false;
      t.history.release();
      await t.stream.settled();
      expect(t.offsets()).to.deep.equal(e1(1, 2, 3, 4, 5, 6, 7, 8));
      expect(t.gaps).to.deep.equal([]);
    });
  });

  describe('recovered: false carries the retained tail', () => {
    it('delivers what history still holds after the gap on a rejoin', () => {
      const t = setup();
      t.join(ack(1));
      const since = t.stream.beginJoin();
      // HISTORY_SIZE 5: offsets 2..8 are trimmed, 9..13 retained.
      t.stream.completeJoin(ack(13, { recovered: false, missed: range(9, 13) }), since);
      expect(t.gaps).to.deep.equal([{ room: ROOM, epoch: 'e1', from: 2, to: 8, recovered: false, reason: 'expired' }]);
      expect(t.offsets()).to.deep.equal(e1(9, 10, 11, 12, 13));
      expect(t.recovered).to.have.length(0);
    });

    it('reads on up to the ack offset when the retained tail was capped', async () => {
      const t = setup();
      t.history.publishUpTo(13);
      t.history.firstRetained = 9;
      t.join(ack(1));
      const since = t.stream.beginJoin();
      t.stream.completeJoin(ack(13, { recovered: false, missed: range(9, 10) }), since);
      await t.stream.settled();
      expect(t.gaps.map((gap) => [gap.from, gap.to, gap.reason])).to.deep.equal([[2, 8, 'expired']]);
      expect(t.history.calls[0]?.since).to.deep.equal({ epoch: 'e1', offset: 10 });
      expect(t.offsets()).to.deep.equal(e1(9, 10, 11, 12, 13));
    });

    it('delivers the retained tail of a new epoch carried by the rejoin ack', async () => {
      const t = setup();
      t.join(ack(4));
      t.history.epoch = 'e2';
      t.history.publishUpTo(12);
      t.history.firstRetained = 8;
      const since = t.stream.beginJoin();
      t.stream.completeJoin(ack(12, { epoch: 'e2', recovered: false, missed: range(8, 12, 'e2') }), since);
      await t.stream.settled();
      expect(t.gaps.map((gap) => [gap.epoch, gap.from, gap.to, gap.reason])).to.deep.equal([
        ['e1', 5, null, 'epoch-changed'],
        ['e2', 1, 7, 'expired'],
      ]);
      expect(t.offsets()).to.deep.equal(['e2:8', 'e2:9', 'e2:10', 'e2:11', 'e2:12']);
    });

    it('reads on up to the answer offset after a page that jumped over trimmed offsets', async () => {
      const t = setup({ historyPageSize: 3 });
      t.history.publishUpTo(13);
      t.history.firstRetained = 9;
      t.join(ack(1));
      t.stream.receive(msg(4)); // e1:2 and e1:3 missing; e1:5.. still on the wire
      t.scheduler.advance(WINDOW);
      await t.stream.settled();
      // The page said history starts at 9 and the room is at 13: 10..13 exist, read them now.
      expect(t.gaps.map((gap) => [gap.from, gap.to])).to.deep.equal([
        [2, 3],
        [5, 8],
      ]);
      expect(t.offsets()).to.deep.equal(e1(4, 9, 10, 11, 12, 13));
    });

    it('delivers the retained tail of a history page past a trimmed range', async () => {
      const t = setup({ historyPageSize: 3 });
      t.history.publishUpTo(13);
      t.history.firstRetained = 9;
      t.join(ack(1));
      t.stream.receive(msg(14));
      t.history.publishUpTo(14);
      t.scheduler.advance(WINDOW);
      await t.stream.settled();
      expect(t.gaps.map((gap) => [gap.from, gap.to, gap.reason])).to.deep.equal([[2, 8, 'expired']]);
      expect(t.offsets()).to.deep.equal(e1(9, 10, 11, 12, 13, 14));
    });
  });

  describe('rejoin', () => {
    it('fetches the rest of a capped missed[] from history at once', async () => {
      const t = setup({ historyPageSize: 100 });
      t.join(ack(2));
      t.history.publishUpTo(300);
      const since = t.stream.beginJoin();
      t.stream.receive(msg(301));
      t.stream.completeJoin(ack(300, { missed: range(3, 102) }), since);
      expect(t.delivered).to.have.length(100);
      await t.stream.settled(); // no timer needed: the ack said offsets up to 300 exist
      expect(t.history.calls[0]?.since).to.deep.equal({ epoch: 'e1', offset: 102 });
      expect(t.delivered.map((message) => message.offset)).to.deep.equal(range(3, 301).map((message) => message.offset));
      expect(t.recovered).to.deep.equal([{ room: ROOM, epoch: 'e1', missed: 298 }]);
    });

    it('ignores a history answer that arrives after the connection dropped', async () => {
      const t = setup();
      t.history.publishUpTo(3);
      t.join(ack(0));
      t.stream.receive(msg(3));
      t.scheduler.advance(WINDOW); // history read starts
      t.stream.suspend(); // disconnect before it answers
      await Promise.resolve();
      await Promise.resolve();
      await t.stream.settled();
      expect(t.delivered).to.have.length(0);
      const since = t.stream.beginJoin();
      expect(since).to.deep.equal({ epoch: 'e1', offset: 0 });
      t.stream.completeJoin(ack(3, { missed: range(1, 3) }), since);
      expect(t.offsets()).to.deep.equal(e1(1, 2, 3));
    });

    it('stops delivering after dispose', () => {
      const t = setup();
      t.join(ack(0));
      t.stream.receive(msg(2));
      t.stream.dispose();
      t.stream.receive(msg(1));
      t.scheduler.advance(WINDOW * 10);
      expect(t.delivered).to.have.length(0);
      expect(t.scheduler.pending).to.equal(0);
    });
  });

  describe('history failures', () => {
    it('retries a retryable failure with backoff, then fills the gap', async () => {
      const t = setup();
      t.history.publishUpTo(3);
      t.history.failWith = RoomcastError.local('UNAVAILABLE', 'redis is down');
      t.history.failuresLeft = 1;
      t.join(ack(0));
      t.stream.receive(msg(3));
      t.scheduler.advance(WINDOW);
      await t.stream.settled();
      expect(t.errors.map((error) => error.code)).to.deep.equal(['UNAVAILABLE']);
      expect(t.delivered).to.have.length(0);
      t.scheduler.advance(WINDOW * 2);
      await t.stream.settled();
      expect(t.history.calls).to.have.length(2);
      expect(t.offsets()).to.deep.equal(e1(1, 2, 3));
      expect(t.gaps).to.have.length(0);
    });

    it('reports the range as a gap when history is refused for good', async () => {
      const t = setup();
      t.history.failWith = RoomcastError.local('FORBIDDEN_ROOM', 'not allowed');
      t.history.failuresLeft = 1;
      t.join(ack(0));
      t.stream.receive(msg(3));
      t.scheduler.advance(WINDOW);
      await t.stream.settled();
      expect(t.gaps).to.deep.equal([{ room: ROOM, epoch: 'e1', from: 1, to: 2, recovered: false, reason: 'unavailable' }]);
      expect(t.offsets()).to.deep.equal(e1(3));
    });

    it('keeps a message of another epoch through a refused history read and asks again later', async () => {
      const t = setup();
      t.join(ack(2));
      t.history.epoch = 'e2';
      t.history.publishUpTo(1);
      t.history.failWith = RoomcastError.local('FORBIDDEN_ROOM', 'not now');
      t.history.failuresLeft = 1;
      t.stream.receive(msg(1, 'e2'));
      await t.stream.settled();
      expect(t.errors.map((error) => error.code)).to.deep.equal(['FORBIDDEN_ROOM']);
      expect(t.gaps).to.deep.equal([]);
      expect(t.stream.asideCount).to.equal(1);
      t.scheduler.advance(10_000);
      await t.stream.settled();
      expect(t.offsets()).to.deep.equal(['e2:1']);
      expect(t.gaps.map((gap) => [gap.epoch, gap.from, gap.to])).to.deep.equal([['e1', 3, null]]);
    });

    it('gives up on a history that never moves forward, with a gap event', async () => {
      const t = setup();
      t.history.publishUpTo(1); // claims complete, but offset 2 never shows up
      t.join(ack(0));
      t.stream.receive(msg(3));
      for (let attempt = 0; attempt < 10; attempt++) {
        t.scheduler.advance(20_000);
        await t.stream.settled();
      }
      expect(t.offsets()).to.deep.equal(e1(1, 3));
      expect(t.gaps.map((gap) => [gap.from, gap.to, gap.reason])).to.deep.equal([[2, 2, 'expired']]);
      expect(t.scheduler.pending).to.equal(0);
    });
  });
});
