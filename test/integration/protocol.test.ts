/** Malformed requests and events outside the protocol get typed errors, and the connection keeps working. */
import { expect } from 'chai';
import { MAX_DATA_DEPTH } from '../../shared/index.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { assertOk, connect, nextEvent, rawRequest, request, type TestSocket } from '../support/sockets.js';
import { signToken } from '../../tools/processes/tokens.js';

describe('protocol validation', () => {
  let gw: TestGateway;
  let socket: TestSocket;
  before(async () => {
    gw = await startGateway();
  });
  beforeEach(async () => {
    socket = await connect(gw.url, await signToken(gw.secret, { sub: 'mallory', rooms: ['r:*'] }));
  });
  afterEach(async () => {
    // Every case ends by proving the connection still serves the protocol.
    expect(socket.connected, 'connection still open').to.equal(true);
    assertOk(await request(socket, 'room:join', { room: 'r:after' }));
    socket.close();
  });
  after(() => gw.close());

  const malformed: Array<[string, string, unknown]> = [
    ['a join without a room', 'room:join', {}],
    ['a join with a string payload', 'room:join', 'r:1'],
    ['a join with an array payload', 'room:join', ['r:1']],
    ['a join with a bad since', 'room:join', { room: 'r:1', since: { epoch: 'e', offset: -1 } }],
    ['a join with a fractional offset', 'room:join', { room: 'r:1', since: { epoch: 'e', offset: 1.5 } }],
    ['a join with unknown fields', 'room:join', { room: 'r:1', admin: true }],
    ['a publish without data', 'room:publish', { room: 'r:1', event: 'e' }],
    ['a publish with a bad event name', 'room:publish', { room: 'r:1', event: 'with space', data: 1 }],
    ['a publish with a numeric event', 'room:publish', { room: 'r:1', event: 7, data: 1 }],
    ['a history with a huge limit', 'room:history', { room: 'r:1', limit: 1_000_000 }],
    ['a presence list with a null room', 'presence:list', { room: null }],
    ['a refresh without token', 'auth:refresh', {}],
    ['a null payload', 'room:leave', null],
  ];
  for (const [what, event, payload] of malformed) {
    it(`answers ${what} with INVALID_PAYLOAD`, async () => {
      const ack = await rawRequest(socket, event, payload);
      if (ack.ok) throw new Error('accepted a malformed request');
      expect(ack.error).to.deep.include({ code: 'INVALID_PAYLOAD', retryable: false });
      expect(ack.error.message).to.be.a('string').and.not.match(/\n\s+at /);
    });
  }

  it(`accepts data nested ${MAX_DATA_DEPTH} levels deep and refuses one level more with INVALID_PAYLOAD`, async () => {
    const nest = (levels: number): unknown => {
      let value: unknown = 'leaf';
      for (let i = 0; i < levels; i += 1) value = i % 2 === 0 ? [value] : { v: value };
      return value;
    };
    assertOk(await request(socket, 'room:join', { room: 'r:deep' }));
    assertOk(await rawRequest(socket, 'room:publish', { room: 'r:deep', event: 'e', data: nest(MAX_DATA_DEPTH) }));
    const ack = await rawRequest(socket, 'room:publish', { room: 'r:deep', event: 'e', data: nest(MAX_DATA_DEPTH + 1) });
    if (ack.ok) throw new Error('accepted data nested too deeply');
    expect(ack.error.code).to.equal('INVALID_PAYLOAD');
    expect(ack.error.message).to.match(/levels/);
  });

  it('answers an unknown event with UNKNOWN_EVENT on its ack', async () => {
    const ack = await rawRequest(socket, 'admin:shutdown', { now: true });
    if (ack.ok) throw new Error('accepted an unknown event');
    expect(ack.error).to.deep.include({ code: 'UNKNOWN_EVENT', retryable: false });
  });

  it('answers an unknown event without ack with a protocol:error event', async () => {
    const error = nextEvent(socket, 'protocol:error');
    (socket.emit as (event: string, payload: unknown) => void)('whatever', 1);
    expect(await error).to.deep.include({ code: 'UNKNOWN_EVENT', event: 'whatever' });
  });

  it('answers a protocol event sent without an ack callback with a protocol:error event', async () => {
    const error = nextEvent(socket, 'protocol:error');
    (socket.emit as (event: string, payload: unknown) => void)('room:join', { room: 'r:1' });
    expect(await error).to.deep.include({ code: 'INVALID_PAYLOAD', event: 'room:join' });
  });

  it('answers a request with extra arguments with INVALID_PAYLOAD', async () => {
    const ack = await rawRequest(socket, 'room:join', { room: 'r:1' }, 'extra');
    if (ack.ok) throw new Error('accepted extra arguments');
    expect(ack.error.code).to.equal('INVALID_PAYLOAD');
  });

  it('answers a reserved client event name with UNKNOWN_EVENT', async () => {
    const ack = await rawRequest(socket, 'message', { room: 'r:1' });
    if (ack.ok) throw new Error('accepted a server-to-client event');
    expect(ack.error.code).to.equal('UNKNOWN_EVENT');
  });
});
