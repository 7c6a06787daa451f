/**
 * @roomcast/client/msgpack: the MessagePack parser (socket.io-msgpack-parser, an
 * optional peer dependency: install it to use this entry), for a gateway running
 * with PARSER=msgpack: `new RoomcastClient(url, { token, parser: msgpackParser })`.
 * A separate entry so that apps on JSON never bundle it.
 */
import parser from 'socket.io-msgpack-parser';
import type { RoomcastParser } from './options.js';

/** socket.io-msgpack-parser implements the parser interface but ships its own, looser typings. */
export const msgpackParser: RoomcastParser = parser as unknown as RoomcastParser;
export default msgpackParser;
