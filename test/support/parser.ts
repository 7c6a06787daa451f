/**
 * The wire parser of the protocol-level integration tests, from one environment
 * variable: ROOMCAST_TEST_PARSER=msgpack makes startGateway() start gateways with
 * PARSER=msgpack and connect() / the SDK clients of the tests use
 * socket.io-msgpack-parser (`npm run test:msgpack`). Unset or `json`: the JSON parser.
 * A test that passes PARSER (or a parser option) itself keeps what it asked for.
 */
import type { RoomcastParser } from '../../client/index.js';
import { msgpackParser } from '../../client/msgpack.js';

export type TestParser = 'json' | 'msgpack';

function fromEnv(value: string | undefined): TestParser {
  if (value === undefined || value === '' || value === 'json') return 'json';
  if (value === 'msgpack') return 'msgpack';
  throw new Error(`ROOMCAST_TEST_PARSER: expected json or msgpack, got "${value}"`);
}

export const TEST_PARSER: TestParser = fromEnv(process.env.ROOMCAST_TEST_PARSER);

/** The SDK's `parser` option for TEST_PARSER (the msgpack one comes from the SDK's ./msgpack entry). */
export const TEST_SDK_PARSER: 'json' | RoomcastParser = TEST_PARSER === 'msgpack' ? msgpackParser : 'json';
