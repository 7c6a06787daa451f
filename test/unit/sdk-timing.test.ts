import { expect } from 'chai';
import { debounce, throttle } from '../../client/timing.js';
import { FakeScheduler } from '../support/fake-scheduler.js';

describe('SDK throttle and debounce', () => {
  let clock: FakeScheduler;
  let calls: Array<[number, number]>;
  const record = (value: number): void => void calls.push([clock.now(), value]);

  beforeEach(() => {
    clock = new FakeScheduler();
    calls = [];
  });

  it('throttle: the first call at once, then at most one per window with the latest arguments', () => {
    const cursor = throttle(record, 50, { scheduler: clock });
    for (let i = 1; i <= 20; i += 1) {
      cursor(i);
      clock.advance(10);
    }
    clock.advance(100);
    // Calls at t=0..190 every 10 ms: leading 1 at 0, then the latest of each 50 ms window.
    expect(calls).to.deep.equal([
      [0, 1],
      [50, 5],
      [100, 10],
      [150, 15],
      [200, 20],
    ]);
    expect(cursor.pending).to.equal(false);
  });

  it('throttle: a call after a quiet window goes through at once; cancel drops the pending one', () => {
    const typing = throttle(record, 100, { scheduler: clock });
    typing(1);
    clock.advance(300);
    typing(2);
    typing(3);
    expect(typing.pending).to.equal(true);
    typing.cancel();
    clock.advance(300);
    expect(calls).to.deep.equal([
      [0, 1],
      [300, 2],
    ]);
  });

  it('throttle: trailing only, and flush', () => {
    const shaped = throttle(record, 100, { scheduler: clock, leading: false });
    shaped(1);
    shaped(2);
    expect(calls).to.deep.equal([]);
    clock.advance(100);
    expect(calls).to.deep.equal([[100, 2]]);
    shaped(3);
    shaped.flush();
    expect(calls).to.deep.equal([
      [100, 2],
      [100, 3],
    ]);
  });

  it('debounce: one call with the latest arguments after the calls stop', () => {
    const stopped = debounce(record, 80, { scheduler: clock });
    for (let i = 1; i <= 5; i += 1) {
      stopped(i);
      clock.advance(30);
    }
    expect(calls).to.deep.equal([]);
    clock.advance(50);
    expect(calls).to.deep.equal([[200, 5]]);
  });

  it('debounce: maxWaitMs bounds the wait under a steady stream; cancel and flush', () => {
    const stopped = debounce(record, 80, { scheduler: clock, maxWaitMs: 100 });
    for (let i = 1; i <= 10; i += 1) {
      stopped(i);
      clock.advance(30);
    }
    expect(calls[0]).to.deep.equal([100, 4]);
    stopped.cancel();
    clock.advance(500);
    const count = calls.length;
    stopped(99);
    stopped.flush();
    expect(calls.slice(count)).to.deep.equal([[clock.now(), 99]]);
    expect(stopped.pending).to.equal(false);
  });
});
