/**
 * PARSER=msgpack carries more than JSON: undefined, Dates, NaN, binary. The gateway
 * brings every incoming payload to what the JSON parser would have delivered, so
 * the same requests give the same answers under both parsers, and nothing it sends
 * has a key holding undefined (which msgpack, unlike JSON, would carry).
 */
import { expect } from 'chai';
import { httpPublish, startGateway, type TestGateway } from '../support/gateway.js';
import { assertOk, collectMessages, connect, rawRequest, request, waitFor, type TestSocket } from '../support/sockets.js';
import { signToken } from '../../tools/processes/tokens.js';

type Parser = 'json' | 'msgpack';

/** Keys whose value is undefined, anywhere in `value`. */
function undefinedKeys(value: unknown, path = '$'): string[] {
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, item]) => (item === undefined ? [`${path}.${key}`] : undefinedKeys(item, `${path}.${key}`)));
}

/** Epochs and timestamps differ between two gateways; everything else must not. */
function comparable(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (key, item: unknown) => (key === 'epoch' || key === 'ts' || key === 'joinedAt' || key === 'connectionId' ? '*' : item)));
}

describe('msgpack payloads behave as JSON ones', () => {
  const gateways: TestGateway[] = [];
  const sockets: TestSocket[] = [];

  async function open(parser: Parser): Promise<{ gw: TestGateway; socket: TestSocket }> {
    const gw = await startGateway({ PARSER: parser });
    gateways.push(gw);
    const socket = await connect(gw.url, await signToken(gw.secret, { sub: 'alice', rooms: ['m:*'] }), { parser });
    sockets.push(socket);
    return { gw, socket };
  }

  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.close();
    await Promise.all(gateways.splice(0).map((gw) => gw.close()));
  });

  /** The same requests, with values JSON cannot carry, against a gateway of each parser. */
  async function scenario(parser: Parser): Promise<{ acks: unknown[]; messages: unknown[] }> {
    const { gw, socket } = await open(parser);
    const messages = collectMessages(socket);
    const acks: unknown[] = [];
    const when = new Date('2026-11-29T01:30:00.000Z');
    acks.push(await rawRequest(socket, 'room:join', { room: 'm:1', since: undefined }));
    acks.push(await rawRequest(socket, 'room:publish', { room: 'm:1', event: 'e', data: { at: when, gone: undefined, list: [undefined, Number.NaN, 1] }, idempotencyKey: undefined }));
    acks.push(await rawRequest(socket, 'room:publish', { room: 'm:1', event: 'e', data: Buffer.from([1, 2, 3]) }));
    acks.push(await rawRequest(socket, 'room:publish', { room: 'm:1', event: 'e', data: { bytes: Buffer.from([1]) } }));
    acks.push(await rawRequest(socket, 'room:history', { room: 'm:1', since: undefined, limit: undefined }));
    acks.push(await rawRequest(socket, 'presence:list', { room: 'm:1' }));
    expect((await httpPublish(gw.url, { room: 'm:1', event: 'http', data: { from: 'backend' } })).status).to.equal(200);
    acks.push(await rawRequest(socket, 'room:join', { room: 'm:1', since: { epoch: (acks[0] as { epoch: string }).epoch, offset: 0 } }));
    acks.push(await rawRequest(socket, 'room:signal', { room: 'm:1', event: 'typing', data: { typing: true, extra: undefined } }));
    acks.push(await rawRequest(socket, 'room:leave', { room: 'm:1' }));
    await waitFor(() => messages.length >= 2, 5000, 'two messages');
    return { acks, messages };
  }

  it('gives the same answers and messages as the JSON parser, with no undefined anywhere', async () => {
    const json = await scenario('json');
    const packed = await scenario('msgpack');
    expect(comparable(packed.acks)).to.deep.equal(comparable(json.acks));
    expect(comparable(packed.messages)).to.deep.equal(comparable(json.messages));
    expect(undefinedKeys(packed.acks)).to.deep.equal([]);
    expect(undefinedKeys(packed.messages)).to.deep.equal([]);
    // What JSON would have made of them: the Date as its ISO text, undefined gone or null, NaN null.
    const [first, second] = packed.messages as Array<{ data: unknown; from?: string }>;
    expect(first?.data).to.deep.equal({ at: '2026-11-29T01:30:00.000Z', list: [null, null, 1] });
    expect(second).to.not.have.property('from');
    // Binary is not JSON: refused under both parsers.
    const refusedBinary = packed.acks.slice(2, 4) as Array<{ ok: boolean; error?: { code: string } }>;
    expect(refusedBinary.map((ack) => ack.error?.code)).to.deep.equal(['INVALID_PAYLOAD', 'INVALID_PAYLOAD']);
  });

  it('serves a msgpack client end to end: joins, publishes, replays', async () => {
    const { socket } = await open('msgpack');
    const join = assertOk(await request(socket, 'room:join', { room: 'm:2' }));
    for (let i = 1; i <= 3; i += 1) assertOk(await request(socket, 'room:publish', { room: 'm:2', event: 'n', data: { i, big: 2 ** 40, neg: -1.5, text: 'ü✓' } }));
    const page = assertOk(await request(socket, 'room:history', { room: 'm:2', since: { epoch: join.epoch, offset: 1 } }));
    expect(page.messages.map((message) => message.data)).to.deep.equal([
      { i: 2, big: 2 ** 40, neg: -1.5, text: 'ü✓' },
      { i: 3, big: 2 ** 40, neg: -1.5, text: 'ü✓' },
    ]);
  });
});
