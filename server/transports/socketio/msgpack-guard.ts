/**
 * PARSER=msgpack with its input checked before it is decoded.
 *
 * notepack.io (under socket.io-msgpack-parser) trusts the lengths a frame
 * declares: a 6-byte frame `c9 40 00 00 00 00` (ext 32, 1 GiB, type 0) makes it
 * allocate a 1 GiB ArrayBuffer and copy into it byte by byte, blocking the
 * event loop for seconds, before any CONNECT or token is checked. So every
 * frame is first walked without allocating anything: each declared length must
 * fit in the bytes present, an array or map cannot declare more elements than
 * bytes remain, nesting is bounded, and only the extension types the protocol
 * uses are allowed (type 0 as ext 8/16/32: binary data; fixext 1 type 0:
 * undefined; fixext 8 type 0: a Date). Anything else closes the connection, as
 * any undecodable frame does. The walk costs one pass over the frame.
 */
import msgpackParser from 'socket.io-msgpack-parser';

/** Nesting the walk accepts: publication data may nest 32 levels (MAX_DATA_DEPTH), inside the packet's own few. */
export const MSGPACK_MAX_DEPTH = 64;

export class MsgpackFrameError extends Error {
  constructor(message: string) {
    super(`msgpack frame refused: ${message}`);
    this.name = 'MsgpackFrameError';
  }
}

function asBytes(frame: unknown): Uint8Array {
  if (frame instanceof Uint8Array) return frame;
  if (frame instanceof ArrayBuffer) return new Uint8Array(frame);
  if (ArrayBuffer.isView(frame)) return new Uint8Array(frame.buffer, frame.byteOffset, frame.byteLength);
  throw new MsgpackFrameError('msgpack frames are binary');
}

/**
 * Walks one msgpack value covering the whole frame; throws MsgpackFrameError
 * on a length past the end, a count larger than the bytes left, nesting past
 * MSGPACK_MAX_DEPTH, an unknown extension type, an unused prefix, or trailing bytes.
 */
export function checkMsgpackFrame(frame: unknown): void {
  const bytes = asBytes(frame);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = bytes.length;
  let offset = 0;
  // Values still to read at each open level (arrays: elements; maps: keys + values).
  const pending: number[] = [1];

  const need = (count: number, what: string): void => {
    if (count > end - offset) throw new MsgpackFrameError(`${what} of ${count} bytes at offset ${offset} passes the end of the ${end}-byte frame`);
  };
  const open = (values: number, what: string): void => {
    // Every value takes at least one byte: a count the rest of the frame cannot hold is a lie.
    if (values > end - offset) throw new MsgpackFrameError(`${what} of ${values} values at offset ${offset} cannot fit in the ${end - offset} bytes left`);
    if (values === 0) return;
    if (pending.length >= MSGPACK_MAX_DEPTH) throw new MsgpackFrameError(`nested deeper than ${MSGPACK_MAX_DEPTH} levels`);
    pending.push(values);
  };
  const uint = (size: 1 | 2 | 4): number => {
    need(size, 'a length');
    const value = size === 1 ? view.getUint8(offset) : size === 2 ? view.getUint16(offset) : view.getUint32(offset);
    offset += size;
    return value;
  };
  const extension = (length: number, allowedType: (type: number) => boolean): void => {
    need(1, 'an extension type');
    const type = view.getInt8(offset);
    offset += 1;
    if (!allowedType(type)) throw new MsgpackFrameError(`extension type ${type} (length ${length}) is not used by the protocol`);
    need(length, 'extension data');
    offset += length;
  };

  while (pending.length > 0) {
    const top = pending.length - 1;
    if (pending[top] === 0) {
      pending.pop();
      continue;
    }
    pending[top] = (pending[top] as number) - 1;
    need(1, 'a value');
    const prefix = bytes[offset] as number;
    offset += 1;
    if (prefix < 0x80 || prefix >= 0xe0 || prefix === 0xc0 || prefix === 0xc2 || prefix === 0xc3) continue; // ints, nil, booleans
    if (prefix < 0x90) open((prefix & 0x0f) * 2, 'a map');
    else if (prefix < 0xa0) open(prefix & 0x0f, 'an array');
    else if (prefix < 0xc0) {
      need(prefix & 0x1f, 'a string');
      offset += prefix & 0x1f;
    } else {
      switch (prefix) {
        case 0xc4: case 0xc5: case 0xc6: {
          const length = uint(prefix === 0xc4 ? 1 : prefix === 0xc5 ? 2 : 4);
          need(length, 'binary data');
          offset += length;
          break;
        }
        case 0xc7: case 0xc8: case 0xc9:
          extension(uint(prefix === 0xc7 ? 1 : prefix === 0xc8 ? 2 : 4), (type) => type === 0);
          break;
        case 0xca: need(4, 'a float'); offset += 4; break;
        case 0xcb: need(8, 'a double'); offset += 8; break;
        case 0xcc: need(1, 'an integer'); offset += 1; break;
        case 0xcd: need(2, 'an integer'); offset += 2; break;
        case 0xce: need(4, 'an integer'); offset += 4; break;
        case 0xcf: need(8, 'an integer'); offset += 8; break;
        case 0xd0: need(1, 'an integer'); offset += 1; break;
        case 0xd1: need(2, 'an integer'); offset += 2; break;
        case 0xd2: need(4, 'an integer'); offset += 4; break;
        case 0xd3: need(8, 'an integer'); offset += 8; break;
        case 0xd4: extension(1, (type) => type === 0); break;
        case 0xd7: extension(8, (type) => type === 0); break;
        case 0xd5: case 0xd6: case 0xd8:
          throw new MsgpackFrameError(`fixext 0x${prefix.toString(16)} is not used by the protocol`);
        case 0xd9: case 0xda: case 0xdb: {
          const length = uint(prefix === 0xd9 ? 1 : prefix === 0xda ? 2 : 4);
          need(length, 'a string');
          offset += length;
          break;
        }
        case 0xdc: case 0xdd: open(uint(prefix === 0xdc ? 2 : 4), 'an array'); break;
        case 0xde: case 0xdf: open(uint(prefix === 0xde ? 2 : 4) * 2, 'a map'); break;
        default:
          throw new MsgpackFrameError(`prefix 0x${prefix.toString(16)} is not msgpack`);
      }
    }
  }
  if (offset !== end) throw new MsgpackFrameError(`${end - offset} trailing bytes`);
}

/** socket.io-msgpack-parser's Decoder, checking each frame before decoding it. */
class GuardedDecoder extends msgpackParser.Decoder {
  override add(frame: unknown): void {
    checkMsgpackFrame(frame);
    super.add(frame);
  }
}

/** What Socket.IO's `parser` option takes: the msgpack parser, guarded. */
export const guardedMsgpackParser = { ...msgpackParser, Decoder: GuardedDecoder };
