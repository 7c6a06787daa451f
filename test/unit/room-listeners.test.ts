/** RoomListeners (what SSE streams hang on) and the SSE id format. */
import { expect } from 'chai';
import type { Message } from '../../shared/index.js';
import { RoomListeners } from '../../server/core/room-listeners.js';
import { formatEventId, parseEventId } from '../../server/transports/sse/sse-request.js';

const message = (room: string, offset: number): Message => ({ room, event: 'e', data: offset, offset, epoch: 'ep', ts: 0 });

describe('RoomListeners', () => {
  it('delivers a message to the listeners of its namespace and room only', () => {
    const listeners = new RoomListeners();
    const got: string[] = [];
    listeners.add('/', 'a', (m) => got.push(`/a:${m.offset}`));
    listeners.add('/', 'b', (m) => got.push(`/b:${m.offset}`));
    listeners.add('/live', 'a', (m) => got.push(`/live a:${m.offset}`));
    listeners.deliver('/', message('a', 1));
    listeners.deliver('/live', message('a', 2));
    listeners.deliver('/', message('c', 3));
    expect(got).to.deep.equal(['/a:1', '/live a:2']);
  });

  it('announces a room on its first listener and withdraws it after its last, once each', () => {
    const listeners = new RoomListeners();
    const interest: string[] = [];
    listeners.onInterest((namespace, room, interested) => interest.push(`${namespace} ${room} ${interested}`));
    const first = listeners.add('/', 'a', () => undefined);
    const second = listeners.add('/', 'a', () => undefined);
    expect(listeners.has('/', 'a')).to.equal(true);
    first();
    first();
    expect(listeners.has('/', 'a')).to.equal(true);
    second();
    expect(listeners.has('/', 'a')).to.equal(false);
    expect(interest).to.deep.equal(['/ a true', '/ a false']);
  });

  it('a listener that throws does not keep the others from the message', () => {
    const listeners = new RoomListeners();
    const errors: unknown[] = [];
    let delivered = 0;
    listeners.add('/', 'a', () => {
      throw new Error('boom');
    });
    listeners.add('/', 'a', () => (delivered += 1));
    listeners.deliver('/', message('a', 1), (error) => errors.push(error));
    expect(delivered).to.equal(1);
    expect(errors).to.have.length(1);
  });
});

describe('SSE ids', () => {
  it('are <epoch>:<offset>, read back at the last colon', () => {
    expect(formatEventId({ epoch: 'Xw3kP9aQ', offset: 12 })).to.equal('Xw3kP9aQ:12');
    expect(parseEventId('Xw3kP9aQ:12')).to.deep.equal({ epoch: 'Xw3kP9aQ', offset: 12 });
    expect(parseEventId('a:b:7')).to.deep.equal({ epoch: 'a:b', offset: 7 });
    for (const bad of ['', '12', ':5', 'ep:', 'ep:-1', 'ep:1.5', `${'x'.repeat(65)}:1`]) expect(parseEventId(bad), bad).to.equal(null);
  });
});
