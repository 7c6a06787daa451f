/**
 * The msgpack frame check (server/transports/socketio/msgpack-guard.ts): frames the
 * protocol produces pass; declared lengths past the end, counts larger than the
 * bytes left, deep nesting and unused extension types are refused before
 * notepack.io would allocate for them.
 */
import { expect } from 'chai';
import msgpackParser from 'socket.io-msgpack-parser';
import { checkMsgpackFrame, MSGPACK_MAX_DEPTH, MsgpackFrameError } from '../../server/transports/socketio/msgpack-guard.js';

const encode = (packet: unknown): Buffer => Buffer.from((new msgpackParser.Encoder().encode(packet) as unknown as ArrayBuffer[])[0] as ArrayBuffer);
const refused = (frame: number[] | Buffer): string => {
  try {
    checkMsgpackFrame(Buffer.from(frame));
    return 'accepted';
  } catch (error) {
    expect(error).to.be.instanceOf(MsgpackFrameError);
    return (error as Error).message;
  }
};

describe('msgpack frame check', () => {
  it('accepts what the protocol sends: connects, events with every JSON type, binary data, dates, undefined', () => {
    const packets = [
      { type: 0, nsp: '/', data: { token: 'x'.repeat(300) } },
      { type: 2, nsp: '/', id: 7, data: ['room:publish', { room: 'r', event: 'e', data: { n: 1.5, big: 2 ** 40, neg: -3, list: [true, false, null, 'é'.repeat(40_000)], nested: { a: [[[]]] } } }] },
      { type: 2, nsp: '/', data: ['room:publish', { room: 'r', event: 'e', data: Buffer.alloc(70_000, 1) }] },
      { type: 2, nsp: '/live', data: ['x', { at: new Date(0), gone: undefined }] },
    ];
    for (const packet of packets) expect(() => checkMsgpackFrame(encode(packet))).to.not.throw();
  });

  it('refuses the 6-byte frame that made notepack.io allocate 1 GiB, and its 4 GiB cousin, without allocating', () => {
    expect(refused([0xc9, 0x40, 0x00, 0x00, 0x00, 0x00])).to.match(/passes the end/);
    expect(refused([0xc9, 0xff, 0xff, 0xff, 0xf0, 0x00])).to.match(/passes the end/);
    expect(refused([0xc6, 0xff, 0xff, 0xff, 0xff])).to.match(/passes the end/);
    expect(refused([0xdb, 0x7f, 0xff, 0xff, 0xff, 0x61])).to.match(/passes the end/);
  });

  it('refuses arrays and maps that declare more elements than bytes are left', () => {
    expect(refused([0xdd, 0xff, 0xff, 0xff, 0xff])).to.match(/cannot fit/);
    expect(refused([0xdf, 0x10, 0x00, 0x00, 0x00, 0x01, 0x02])).to.match(/cannot fit/);
    expect(refused([0x93, 0x01])).to.match(/cannot fit/);
  });

  it(`refuses nesting deeper than ${MSGPACK_MAX_DEPTH} levels, unused extension types, unknown prefixes and trailing bytes`, () => {
    expect(refused([...Array.from({ length: MSGPACK_MAX_DEPTH + 1 }, () => 0x91), 0x01])).to.match(/nested deeper/);
    expect(refused([0xd6, 0x05, 0x00, 0x00, 0x00, 0x00])).to.match(/not used by the protocol/);
    expect(refused([0xc7, 0x01, 0x07, 0x00])).to.match(/extension type 7/);
    expect(refused([0xc1])).to.match(/not msgpack/);
    expect(refused([0x01, 0x02])).to.match(/trailing bytes/);
    expect(() => checkMsgpackFrame('42["text"]')).to.throw(MsgpackFrameError, /binary/);
  });
});
