import { expect } from 'chai';
import { RoomcastError } from '../../client/errors.js';
import { Outbox, newIdempotencyKey } from '../../client/outbox.js';
import { FakeScheduler } from '../support/fake-scheduler.js';

describe('SDK outbox', () => {
  let clock: FakeScheduler;
  let keys: number;
  const make = (maxEntries = 3, ttlMs = 1000): Outbox<{ n: number }> =>
    new Outbox<{ n: number }>({ maxEntries, ttlMs, scheduler: clock, newKey: () => `key-${++keys}` });

  beforeEach(() => {
    clock = new FakeScheduler(10_000);
    keys = 0;
  });

  it('keeps entries in enqueue order, across rooms', () => {
    const outbox = make(5);
    outbox.enqueue('a', 'chat', { n: 1 });
    outbox.enqueue('b', 'chat', { n: 2 });
    outbox.enqueue('a', 'chat', { n: 3 });
    expect(outbox.list().map((entry) => [entry.room, entry.data.n])).to.deep.equal([
      ['a', 1],
      ['b', 2],
      ['a', 3],
    ]);
    expect(outbox.peek()?.data.n).to.equal(1);
  });

  it('refuses an entry beyond maxEntries with a typed OUTBOX_FULL and keeps the others', () => {
    const outbox = make(2);
    outbox.enqueue('a', 'chat', { n: 1 });
    outbox.enqueue('a', 'chat', { n: 2 });
    let error: unknown;
    try {
      outbox.enqueue('a', 'chat', { n: 3 });
    } catch (caught) {
      error = caught;
    }
    expect(RoomcastError.is(error, 'OUTBOX_FULL')).to.equal(true);
    expect(error).to.include({ code: 'OUTBOX_FULL', retryable: true, room: 'a', event: 'room:publish' });
    expect(outbox.list().map((entry) => entry.data.n)).to.deep.equal([1, 2]);
  });

  it('takes out entries whose TTL passed, oldest first, never the one being sent', () => {
    const outbox = make(5, 1000);
    const first = outbox.enqueue('a', 'chat', { n: 1 });
    clock.advance(400);
    const second = outbox.enqueue('a', 'chat', { n: 2 });
    clock.advance(400);
    outbox.enqueue('a', 'chat', { n: 3 });
    expect(outbox.nextExpiry()).to.equal(first.expiresAt);
    clock.advance(199);
    expect(outbox.takeExpired()).to.deep.equal([]);
    clock.advance(1);
    expect(outbox.takeExpired(first)).to.deep.equal([]);
    expect(outbox.takeExpired()).to.deep.equal([first]);
    clock.advance(400);
    expect(outbox.takeExpired()).to.deep.equal([second]);
    expect(outbox.list().map((entry) => entry.data.n)).to.deep.equal([3]);
    const error = Outbox.expiredError(second);
    expect(error).to.include({ code: 'OUTBOX_EXPIRED', retryable: true, room: 'a' });
    expect(error.message).to.match(/1000 ms/);
  });

  it('never reports OUTBOX_EXPIRED for an entry that was sent: its outcome is unknown, retry with its key', () => {
    const outbox = make(5, 1000);
    const sent = outbox.enqueue('a', 'chat', { n: 1 });
    const unsent = outbox.enqueue('a', 'chat', { n: 2 });
    sent.attempts += 1; // sent, and the answer never came
    clock.advance(1000);
    expect(outbox.takeExpired()).to.deep.equal([sent, unsent]);
    const unknown = Outbox.expiredError(sent);
    expect(RoomcastError.is(unknown, 'OUTBOX_EXPIRED')).to.equal(false);
    expect(unknown).to.include({ code: 'UNAVAILABLE', retryable: true, unknown: true, idempotencyKey: 'key-1', room: 'a', event: 'room:publish' });
    expect(Outbox.expiredError(unsent)).to.include({ code: 'OUTBOX_EXPIRED', unknown: false });
  });

  it('reports an entry refused at every attempt with its last refusal, and one with any unanswered attempt as unknown', () => {
    const outbox = make(5, 1000);
    const refused = outbox.enqueue('a', 'chat', { n: 1 });
    const mixed = outbox.enqueue('a', 'chat', { n: 2 });
    const noAnswer = RoomcastError.local('UNAVAILABLE', 'operation has timed out', { room: 'a', unknown: true });
    const rateLimited = new RoomcastError({ code: 'RATE_LIMITED', message: 'slow down', retryable: true }, { room: 'a' });
    refused.attempts += 2;
    Outbox.attemptFailed(refused, rateLimited);
    Outbox.attemptFailed(refused, rateLimited);
    mixed.attempts += 2;
    Outbox.attemptFailed(mixed, noAnswer);
    Outbox.attemptFailed(mixed, rateLimited); // answered this time, but the first attempt may have stored it
    clock.advance(1000);
    expect(outbox.takeExpired()).to.deep.equal([refused, mixed]);
    expect(Outbox.expiredError(refused)).to.include({ code: 'RATE_LIMITED', retryable: true, unknown: false, idempotencyKey: 'key-1' });
    expect(Outbox.expiredError(mixed)).to.include({ code: 'UNAVAILABLE', unknown: true, idempotencyKey: 'key-2' });
  });

  it('gives each entry its key at enqueue and keeps it through every retry', () => {
    const outbox = make(5);
    const entry = outbox.enqueue('a', 'chat', { n: 1 });
    const mine = outbox.enqueue('a', 'chat', { n: 2 }, 'caller-key');
    expect(entry.idempotencyKey).to.equal('key-1');
    expect(mine.idempotencyKey).to.equal('caller-key');
    // A flush that fails with an unknown outcome leaves the entry first, key unchanged.
    entry.attempts += 1;
    expect(outbox.peek()).to.equal(entry);
    entry.attempts += 1;
    expect(outbox.peek()?.idempotencyKey).to.equal('key-1');
    expect(entry.attempts).to.equal(2);
    expect(keys).to.equal(1);
    expect(outbox.remove(entry)).to.equal(true);
    expect(outbox.remove(entry)).to.equal(false);
    expect(outbox.peek()).to.equal(mine);
    expect(outbox.clear()).to.deep.equal([mine]);
    expect(outbox.size).to.equal(0);
  });

  it('makes distinct random idempotency keys within the protocol limit', () => {
    const made = new Set(Array.from({ length: 100 }, () => newIdempotencyKey()));
    expect(made.size).to.equal(100);
    for (const key of made) expect(key.length).to.be.within(1, 128);
  });
});
