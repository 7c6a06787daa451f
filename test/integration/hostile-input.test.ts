/**
 * Hostile input, straight over a raw WebSocket (test/support/raw-engine-client.ts):
 * malformed Engine.IO and Socket.IO packets, wrong types in every field of every
 * protocol event, unknown events, deep and huge JSON, binary where text is
 * expected, and floods. For every case the attacker gets a typed error (on its
 * ack, or as a `protocol:error` event) or is disconnected, never silence (apart
 * from the few packets Engine.IO / Socket.IO drop by design, listed in
 * DOCUMENTED_SILENT below), never a stack trace; the gateway stays up, its
 * other clients are served, its memory stays bounded and no connection leaks.
 *
 * The gateway runs in this process with small limits. Each generated case gets a
 * fresh raw connection, so its expected answer is exact (no rate limit carried
 * over from the previous case). After each test, /healthz answers and a control
 * client (socket.io-client, joined to a room) receives a fresh HTTP publication.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { ZodType } from 'zod';
import {
  ERROR_CATALOG,
  ERROR_CODES,
  authRefreshRequestSchema,
  historyRequestSchema,
  isErrorPayload,
  joinRequestSchema,
  leaveRequestSchema,
  presenceListRequestSchema,
  publishRequestSchema,
  signalRequestSchema,
  type ErrorCode,
  type Message,
} from '../../shared/index.js';
import { captureLogs, httpPublish, startGateway, type LogCapture, type TestGateway } from '../support/gateway.js';
import { RawEngineClient, encodeEvent, placeholder, type ReceivedFrame, type SioPacket } from '../support/raw-engine-client.js';
import { assertOk, collectMessages, connect, request, waitFor, type TestSocket } from '../support/sockets.js';
import { signToken } from '../../tools/processes/tokens.js';

const MAX_PAYLOAD_BYTES = 4096;
/** What the gateway gives Socket.IO as maxHttpBufferSize: beyond it, the WebSocket is closed (1009). */
const MAX_FRAME_BYTES = MAX_PAYLOAD_BYTES * 2 + 64 * 1024;
const RATE_LIMIT_PER_S = 50;
const RATE_LIMIT_BURST = 100;
/** A V8 stack frame line, as it would appear if a stack ever reached the wire. */
const STACK_LINE = '    at ';
/** Generous bound on each wait for an answer; a case that needs it has failed ("silence"). */
const ANSWER_WAIT_MS = 5000;
/** Bound on the whole of one property (generation, runs and shrinking). */
const PROPERTY_TIME_MS = 8000;
const CONTROL_ROOM = 'control:room';
const HOSTILE_ROOMS = ['h:*'];

const PROTOCOL_EVENTS = ['room:join', 'room:leave', 'room:publish', 'room:history', 'presence:list', 'room:signal', 'auth:refresh'] as const;
type ProtocolEvent = (typeof PROTOCOL_EVENTS)[number];
const SCHEMAS: Record<ProtocolEvent, ZodType> = {
  'room:join': joinRequestSchema,
  'room:leave': leaveRequestSchema,
  'room:publish': publishRequestSchema,
  'room:history': historyRequestSchema,
  'presence:list': presenceListRequestSchema,
  'room:signal': signalRequestSchema,
  'auth:refresh': authRefreshRequestSchema,
};
/** Event names socket.io-parser refuses to decode: such a packet closes the connection. */
const SOCKET_IO_RESERVED = ['connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener'];
const ANY_CODE: readonly ErrorCode[] = ERROR_CODES;

/**
 * The only packets that may go unanswered while the connection stays open.
 * Each is dropped by Engine.IO or Socket.IO before the gateway sees it:
 * - Engine.IO `0` open, `1` close, `3` pong, `5` upgrade, `6` noop sent by a client on an open
 *   WebSocket session: engine.io's Socket#onPacket has no branch for them (a pong just re-arms the heartbeat).
 * - Socket.IO `3` ACK / `6` BINARY_ACK with an id the server never issued: Socket#onack drops it ("bad ack").
 * - Socket.IO `1` DISCONNECT of a connected namespace: the namespace socket closes, as the client asked;
 *   the Engine.IO connection stays open without a namespace (the next event on it is answered by a close).
 */
function isDocumentedSilent(frame: string): boolean {
  if (frame.length === 0) return false;
  if ('01356'.includes(frame.charAt(0))) return true;
  return frame.startsWith('41') || frame.startsWith('43') || frame.startsWith('46');
}

// ---- the gateway, the control client, and checks shared by every test --------------------------------

let gw: TestGateway;
let logs: LogCapture;
let control: TestSocket;
let controlMessages: Message[];
let hostileToken: string;
let checks = 0;
const openClients = new Set<RawEngineClient>();
const processProblems: string[] = [];
const onUnhandledRejection = (reason: unknown): void => void processProblems.push(`unhandledRejection: ${String(reason)}`);
const onUncaught = (error: Error): void => void processProblems.push(`uncaughtException: ${error.stack ?? String(error)}`);
/** Outcome counts per property, printed with HOSTILE_REPORT=1. */
const tallies = new Map<string, Record<string, number>>();

function tally(property: string, outcome: string): void {
  const counts = tallies.get(property) ?? {};
  counts[outcome] = (counts[outcome] ?? 0) + 1;
  tallies.set(property, counts);
}

async function openRaw(connectNamespace: boolean, token = hostileToken): Promise<RawEngineClient> {
  const client = await RawEngineClient.connect(gw.url);
  openClients.add(client);
  if (connectNamespace) {
    const answer = await client.connectNamespace({ token });
    if (answer.status !== 'matched' || answer.value.type !== 0) {
      throw new Error(`namespace connect failed: ${JSON.stringify(answer.status === 'matched' ? answer.value : answer)}`);
    }
  }
  return client;
}

async function dispose(client: RawEngineClient): Promise<void> {
  await client.close();
  openClients.delete(client);
}

/** Runs `body` on a fresh raw connection, checks every frame it received, and closes it. */
async function withClient(connectNamespace: boolean, body: (client: RawEngineClient) => Promise<void>): Promise<void> {
  const client = await openRaw(connectNamespace);
  try {
    await body(client);
    checkFrames(client);
  } finally {
    await dispose(client);
  }
}

function show(frames: ReceivedFrame[]): string {
  return frames.map((frame) => (frame.kind === 'binary' ? `<binary ${frame.bytes?.length ?? 0}>` : frame.text.slice(0, 200))).join(' | ');
}

function checkTypedError(error: unknown, where: string): asserts error is { code: ErrorCode; message: string; retryable: boolean } {
  if (!isErrorPayload(error)) throw new Error(`${where}: not a typed error: ${JSON.stringify(error)?.slice(0, 300)}`);
  expect(error.retryable, `${where}: retryable of ${error.code}`).to.equal(ERROR_CATALOG[error.code].retryable);
  // INTERNAL means a handler threw something that was not a RoomcastError: a gateway bug, whatever the input.
  expect(error.code, `${where}: ${error.message}`).not.to.equal('INTERNAL');
}

/** Every frame the gateway sent is a well-formed packet of the protocol, with typed errors and no stack. */
function checkFrames(client: RawEngineClient): void {
  for (const frame of client.frames) {
    const where = `frame ${frame.seq} (${frame.text.slice(0, 120)})`;
    expect(frame.text.includes(STACK_LINE), `stack trace in ${where}`).to.equal(false);
    expect(frame.kind, `${where}: the gateway sends hostile clients no binary`).to.equal('text');
    expect(['0', '1', '2', '4', '6'], `${where}: Engine.IO type`).to.include(frame.engineType);
    if (frame.engineType !== '4') continue;
    const sio = frame.sio;
    if (sio === undefined) throw new Error(`${where}: does not decode as a Socket.IO packet`);
    checkSioPacket(sio, where);
  }
}

function checkSioPacket(sio: SioPacket, where: string): void {
  switch (sio.type) {
    case 0:
      expect(sio.data, `${where}: CONNECT answer`).to.have.property('sid').that.is.a('string');
      return;
    case 1:
      return;
    case 2: {
      const args = sio.data;
      if (!Array.isArray(args) || typeof args[0] !== 'string') throw new Error(`${where}: EVENT without a name`);
      expect(['protocol:error', 'message', 'presence:join', 'presence:leave', 'server:draining', 'session', 'room:left'], `${where}: server event`).to.include(args[0]);
      if (args[0] === 'protocol:error') checkTypedError(args[1], where);
      return;
    }
    case 3: {
      const args = sio.data;
      if (!Array.isArray(args) || args.length !== 1) throw new Error(`${where}: an ack carries exactly one response`);
      const response = args[0] as { ok?: unknown; error?: unknown };
      expect(response.ok, `${where}: ack.ok`).to.be.a('boolean');
      if (response.ok === false) checkTypedError(response.error, where);
      return;
    }
    case 4: {
      const data = sio.data as { message?: unknown; data?: unknown } | undefined;
      expect(data?.message, `${where}: CONNECT_ERROR message`).to.be.a('string');
      // Namespaces the gateway declares refuse with a typed error; any other is refused by Socket.IO itself.
      if (sio.nsp === '/' || sio.nsp === '/live') checkTypedError(data?.data, where);
      else expect(data?.message).to.equal('Invalid namespace');
      return;
    }
    default:
      throw new Error(`${where}: unexpected Socket.IO packet type ${sio.type}`);
  }
}

interface Expectation {
  /** The hostile packet carries this ack id: an ack must come (or a close). */
  ackId?: number;
  /** No ack id: a protocol:error with this `event` field must come (or a close). */
  protocolErrorFor?: string;
  /** The error codes that are right for the ack or protocol:error. */
  codes?: readonly ErrorCode[];
  /** The request may legitimately succeed (it passes the protocol's schema). */
  okAllowed?: boolean;
  /** Only a close by the gateway is right; `closeCode` pins the WebSocket close code. */
  mustClose?: boolean;
  closeCode?: number;
  /** The packet is in DOCUMENTED_SILENT: no answer is right. */
  silentAllowed?: boolean;
  /** Exactly silence: the connection stays open and nothing but heartbeats and probe answers arrives. */
  mustBeSilent?: boolean;
}

type Outcome = 'ack-ok' | 'ack-error' | 'protocol-error' | 'closed' | 'answered' | 'silent';

function ackResponse(packet: SioPacket): { ok: boolean; error?: unknown } {
  return (packet.data as Array<{ ok: boolean; error?: unknown }>)[0] as { ok: boolean; error?: unknown };
}

function protocolErrorsSince(client: RawEngineClient, from: number): Array<{ code: ErrorCode; event?: string }> {
  const found: Array<{ code: ErrorCode; event?: string }> = [];
  for (const frame of client.framesSince(from)) {
    const args = frame.sio?.type === 2 ? frame.sio.data : undefined;
    if (Array.isArray(args) && args[0] === 'protocol:error') found.push(args[1] as { code: ErrorCode; event?: string });
  }
  return found;
}

function closedByGateway(client: RawEngineClient, expectation: Expectation, context: string): Outcome {
  const info = client.closed;
  if (info === null) throw new Error(`${context}: expected a closed connection`);
  expect(info.byClient, `${context}: closed by this side`).to.equal(false);
  if (expectation.closeCode !== undefined) expect(info.code, `${context}: close code`).to.equal(expectation.closeCode);
  return 'closed';
}

/**
 * Waits for what the gateway does about the packet(s) sent since frame `from`,
 * and checks it against the expectation. Throws on silence (no answer, no close
 * within ANSWER_WAIT_MS) unless silence is documented for the packet.
 */
async function settle(client: RawEngineClient, from: number, expectation: Expectation, context: string): Promise<Outcome> {
  const sent = (): string => `${context}; received: ${show(client.framesSince(from))}`;
  if (expectation.mustClose) {
    const probe = await client.probe(ANSWER_WAIT_MS);
    if (probe !== 'closed') throw new Error(`expected the gateway to close the connection, got ${probe}: ${sent()}`);
    return closedByGateway(client, expectation, context);
  }
  if (expectation.ackId !== undefined) {
    const id = expectation.ackId;
    const outcome = await client.waitForAck(id, ANSWER_WAIT_MS);
    if (outcome.status === 'timeout') throw new Error(`silence: no ack ${id} and no close: ${sent()}`);
    if (outcome.status === 'closed') return closedByGateway(client, expectation, context);
    const response = ackResponse(outcome.value);
    if (response.ok) {
      expect(expectation.okAllowed === true, `accepted: ${sent()}`).to.equal(true);
      return 'ack-ok';
    }
    checkTypedError(response.error, context);
    expect(expectation.codes ?? ANY_CODE, sent()).to.include(response.error.code);
    return 'ack-error';
  }
  if (expectation.protocolErrorFor !== undefined) {
    const event = expectation.protocolErrorFor;
    const outcome = await client.waitFor(() => protocolErrorsSince(client, from).find((error) => error.event === event), ANSWER_WAIT_MS);
    if (outcome.status === 'timeout') throw new Error(`silence: no protocol:error for ${JSON.stringify(event.slice(0, 100))} and no close: ${sent()}`);
    if (outcome.status === 'closed') return closedByGateway(client, expectation, context);
    checkTypedError(outcome.value, context);
    expect(expectation.codes ?? ANY_CODE, sent()).to.include(outcome.value.code);
    return 'protocol-error';
  }
  // Anything may be right: an answer, a close, or (documented) nothing. Two probes: the
  // first proves the packet was read, the second that what it triggered was sent.
  for (let round = 0; round < 2; round += 1) {
    const probe = await client.probe(ANSWER_WAIT_MS);
    if (probe === 'timeout') throw new Error(`silence: the probe got no answer and no close: ${sent()}`);
    if (probe === 'closed') {
      expect(expectation.mustBeSilent !== true, `expected silence, got a close: ${sent()}`).to.equal(true);
      return closedByGateway(client, expectation, context);
    }
  }
  const answers = client.framesSince(from).filter((frame) => !RawEngineClient.isProbeAnswer(frame) && frame.engineType !== '2');
  if (expectation.mustBeSilent) {
    expect(answers, `expected silence: ${sent()}`).to.have.length(0);
    return 'silent';
  }
  if (answers.length > 0) return 'answered';
  if (expectation.silentAllowed !== true) throw new Error(`silence: neither an answer nor a close: ${sent()}`);
  return 'silent';
}

/** One hostile event packet: with an ack id it wants an ack, without one a protocol:error (either may be a close). */
function sendEvent(client: RawEngineClient, args: unknown[], withAck: boolean, codes: readonly ErrorCode[], okAllowed = false): Expectation {
  if (withAck) return { ackId: client.emitWithAckId(args[0], ...args.slice(1)), codes, okAllowed };
  client.emit(args[0], ...args.slice(1));
  return { protocolErrorFor: typeof args[0] === 'string' ? args[0].slice(0, 100) : '', codes };
}

async function joinRoom(client: RawEngineClient, room: string): Promise<void> {
  const id = client.emitWithAckId('room:join', { room });
  const outcome = await client.waitForAck(id, ANSWER_WAIT_MS);
  if (outcome.status !== 'matched' || !ackResponse(outcome.value).ok) throw new Error(`join ${room} failed: ${JSON.stringify(outcome)}`);
}

/** Runs a property with a bounded number of runs and a bound on its total time; at least `minRuns` must have run. */
async function property<T>(name: string, arbitrary: fc.Arbitrary<T>, predicate: (value: T) => Promise<void>, numRuns: number, minRuns = Math.min(numRuns, 30)): Promise<void> {
  const details = await fc.check(fc.asyncProperty(arbitrary, predicate), { numRuns, interruptAfterTimeLimit: PROPERTY_TIME_MS, markInterruptAsFailure: false });
  if (details.failed) throw new Error(`${name}: ${fc.defaultReportMessage(details) ?? 'failed'}`);
  tally(name, `runs:${details.numRuns}`);
  expect(details.numRuns, `${name}: runs completed within ${PROPERTY_TIME_MS} ms`).to.be.at.least(minRuns);
}

async function assertGatewayHealthy(label: string): Promise<void> {
  const health = await fetch(`${gw.url}/healthz`);
  await health.arrayBuffer();
  expect(health.status, '/healthz').to.equal(200);
  expect(control.connected, 'the control client is still connected').to.equal(true);
  checks += 1;
  const marker = `${label}#${checks}`;
  const published = await httpPublish(gw.url, { room: CONTROL_ROOM, event: 'check', data: { marker } });
  expect(published.status, 'HTTP publish').to.equal(200);
  await waitFor(() => controlMessages.some((message) => (message.data as { marker?: string } | null)?.marker === marker), ANSWER_WAIT_MS, `the control client to receive ${marker}`);
}

// ---- generators --------------------------------------------------------------------------------------

/** JSON as it crosses the wire: what the gateway will parse (undefined in arrays becomes null, -0 becomes 0, ...). */
function wire(value: unknown): unknown {
  return (JSON.parse(JSON.stringify([value])) as unknown[])[0];
}

const anyJson: fc.Arbitrary<unknown> = fc.oneof(fc.jsonValue({ maxDepth: 4 }), fc.anything({ maxDepth: 3, maxKeys: 5 }).map(wire));

/** Strings that no field of the protocol accepts: empty, too long for any of them, or with characters no name allows. */
const invalidString = fc.oneof(
  fc.constant(''),
  fc.string({ minLength: 1, maxLength: 20 }).map((s) => `${s} `),
  fc.constantFrom('room with space', 'ünïcode', '<script>', '../../etc/passwd', '\u0000', '\ud800', 'x'.repeat(201), 'e'.repeat(65), 'k'.repeat(129), 't'.repeat(8193)),
);
const invalidNumber = fc.oneof(fc.constantFrom(-1, 1.5, 0.1, 1001, 1e300, 2 ** 53, -0.5, Number.MAX_VALUE), fc.double({ noNaN: true }).filter((d) => !Number.isSafeInteger(d)));
const wrongValue = fc.oneof(fc.jsonValue({ maxDepth: 2 }), invalidString, invalidNumber, fc.constant(null), fc.constant([]), fc.constant({}));

/** A valid payload of each event, and the paths of its fields, each of which the property replaces with a wrong value. */
const FIELDS: Record<ProtocolEvent, { base: Record<string, unknown>; paths: string[][] }> = {
  'room:join': { base: { room: 'h:1', since: { epoch: 'e1', offset: 0 } }, paths: [['room'], ['since'], ['since', 'epoch'], ['since', 'offset']] },
  'room:leave': { base: { room: 'h:1' }, paths: [['room']] },
  'room:publish': { base: { room: 'h:1', event: 'e', data: { n: 1 }, idempotencyKey: 'k1' }, paths: [['room'], ['event'], ['idempotencyKey']] },
  'room:history': { base: { room: 'h:1', since: { epoch: 'e1', offset: 0 }, limit: 10 }, paths: [['room'], ['since'], ['since', 'epoch'], ['since', 'offset'], ['limit']] },
  'presence:list': { base: { room: 'h:1' }, paths: [['room']] },
  'room:signal': { base: { room: 'h:1', event: 'typing', data: { on: true } }, paths: [['room'], ['event']] },
  'auth:refresh': { base: { token: 'a.b.c' }, paths: [['token']] },
};

type Mutation = { kind: 'set'; path: string[]; value: unknown } | { kind: 'delete'; path: string[] } | { kind: 'extra-key'; inSince: boolean; key: string; value: unknown } | { kind: 'whole'; value: unknown };

function applyMutation(base: Record<string, unknown>, mutation: Mutation): unknown {
  if (mutation.kind === 'whole') return mutation.value;
  const copy = JSON.parse(JSON.stringify(base)) as Record<string, unknown>;
  if (mutation.kind === 'extra-key') {
    const target = mutation.inSince && typeof copy.since === 'object' && copy.since !== null ? (copy.since as Record<string, unknown>) : copy;
    Object.defineProperty(target, mutation.key, { value: mutation.value, enumerable: true, writable: true, configurable: true });
    return copy;
  }
  const path = mutation.path;
  let parent: Record<string, unknown> = copy;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string, unknown>;
  const last = path[path.length - 1] as string;
  if (mutation.kind === 'delete') delete parent[last];
  else parent[last] = mutation.value;
  return copy;
}

const wrongTypeCase = fc.constantFrom(...PROTOCOL_EVENTS).chain((event) =>
  fc.record({
    event: fc.constant(event),
    mutation: fc.oneof(
      fc.record({ kind: fc.constant('set' as const), path: fc.constantFrom(...FIELDS[event].paths), value: wrongValue }),
      fc.record({ kind: fc.constant('delete' as const), path: fc.constantFrom(...FIELDS[event].paths) }),
      fc.record({
        kind: fc.constant('extra-key' as const),
        inSince: fc.boolean(),
        key: fc.oneof(fc.string({ minLength: 1, maxLength: 10 }), fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'admin')),
        value: fc.jsonValue({ maxDepth: 2 }),
      }),
      fc.record({ kind: fc.constant('whole' as const), value: fc.oneof(fc.constant(null), fc.string(), fc.integer(), fc.boolean(), fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 })) }),
    ) as fc.Arbitrary<Mutation>,
    withAck: fc.boolean(),
  }),
);

const engineTypeChar = fc.constantFrom('0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'b', 'a', '{', '[', ' ', '');
const sioTypeChar = fc.constantFrom('0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '/', '[', '{', '-', '');
const frameTail = fc.oneof(
  fc.string({ maxLength: 64 }),
  fc.string({ unit: 'binary', maxLength: 64 }),
  fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }).map((value) => JSON.stringify(value)),
  fc.nat().map(String),
  fc.constantFrom('', ',', '/,', '-', '1-', '[', ']', '{}', '[]', '"x"', 'null', '["room:join"]', '["room:join",{}]', '[1]', '[{"_placeholder":true,"num":0}]'),
);
const nspPart = fc.constantFrom('', '/,', '/live,', '/nope,', '/', '/live', '//,');
/** Text frames from pure noise to almost-valid Engine.IO / Socket.IO packets. */
const textFrame = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.tuple(engineTypeChar, frameTail).map(([type, tail]) => type + tail),
  fc.tuple(sioTypeChar, nspPart, fc.option(fc.nat(), { nil: undefined }), frameTail).map(([type, nsp, id, tail]) => `4${type}${nsp}${id ?? ''}${tail}`),
);

function deepJson(levels: number, shape: 'array' | 'object'): string {
  return shape === 'array' ? `${'['.repeat(levels)}"x"${']'.repeat(levels)}` : `${'{"a":'.repeat(levels)}"x"${'}'.repeat(levels)}`;
}

// ---- the tests ---------------------------------------------------------------------------------------

describe('hostile input over a raw WebSocket', function () {
  this.timeout(30_000);

  before(async () => {
    process.on('unhandledRejection', onUnhandledRejection);
    process.on('uncaughtExceptionMonitor', onUncaught);
    logs = captureLogs();
    gw = await startGateway(
      {
        MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD_BYTES),
        RATE_LIMIT_PER_S: String(RATE_LIMIT_PER_S),
        RATE_LIMIT_BURST: String(RATE_LIMIT_BURST),
        HISTORY_SIZE: '50',
        // Pings every 1.5 s, so the raw clients' pong handling is exercised during the properties.
        PING_INTERVAL_MS: '1500',
        PING_TIMEOUT_MS: '5000',
        LOG_LEVEL: 'warn',
        // The raw frames below are Socket.IO's JSON text encoding, whatever ROOMCAST_TEST_PARSER says;
        // msgpack input has its own cases in msgpack-input.test.ts.
        PARSER: 'json',
      },
      logs,
    );
    hostileToken = await signToken(gw.secret, { sub: 'mallory', rooms: HOSTILE_ROOMS });
    control = await connect(gw.url, await signToken(gw.secret, { sub: 'control', rooms: ['control:*'] }), { parser: 'json' });
    controlMessages = collectMessages(control);
    assertOk(await request(control, 'room:join', { room: CONTROL_ROOM }));
  });

  afterEach(async function () {
    await Promise.all([...openClients].map((client) => dispose(client)));
    if (this.currentTest?.state === 'failed') return;
    await assertGatewayHealthy(this.currentTest?.title ?? 'test');
    const errors = logs.lines.filter((line) => (JSON.parse(line) as { level: number }).level >= 50);
    expect(errors, 'error-level gateway logs').to.deep.equal([]);
    expect(processProblems, 'unhandled rejections / uncaught exceptions').to.deep.equal([]);
  });

  after(async () => {
    process.off('unhandledRejection', onUnhandledRejection);
    process.off('uncaughtExceptionMonitor', onUncaught);
    control?.close();
    await gw?.close();
    if (process.env.HOSTILE_REPORT === '1') {
      for (const [name, counts] of tallies) console.log(`  ${name}: ${JSON.stringify(counts)}`);
      const messages = new Map<string, number>();
      for (const line of logs.lines) {
        const msg = (JSON.parse(line) as { msg?: string }).msg ?? '?';
        messages.set(msg, (messages.get(msg) ?? 0) + 1);
      }
      console.log(`  gateway log lines at warn and above: ${JSON.stringify(Object.fromEntries(messages))}`);
    }
  });

  describe('raw frames', () => {
    for (const connected of [false, true]) {
      const when = connected ? 'after' : 'before';
      it(`arbitrary text frames ${when} the namespace connect: an answer, a close, or a documented silence`, async () => {
        const name = `text frames ${when} connect`;
        await property(
          name,
          textFrame,
          (frame) =>
            withClient(connected, async (client) => {
              const from = client.frames.length;
              client.sendText(frame);
              tally(name, await settle(client, from, { silentAllowed: isDocumentedSilent(frame) }, `frame ${JSON.stringify(frame)}`));
            }),
          connected ? 250 : 200,
        );
      });
    }

    it('arbitrary binary frames, and text frames that are not UTF-8, before and after the connect: the connection is closed', async () => {
      const name = 'binary frames';
      await property(
        name,
        fc.record({ bytes: fc.uint8Array({ maxLength: 2048 }), connected: fc.boolean(), asText: fc.boolean() }),
        ({ bytes, connected, asText }) =>
          withClient(connected, async (client) => {
            const from = client.frames.length;
            if (asText) {
              // 0xff never occurs in UTF-8: the WebSocket layer refuses the frame (1007).
              client.sendTextBytes(Buffer.concat([Buffer.from(bytes), Buffer.from([0xff])]));
            } else client.sendBinary(bytes);
            tally(name, await settle(client, from, { mustClose: true, ...(asText ? { closeCode: 1007 } : {}) }, `${bytes.length} bytes, text ${asText}`));
          }),
        150,
      );
    });

    // Each row: [frame(s), connected first?, expectation, why]. Between two frames of a row the test waits for a
    // probe's answer, so the second is read after the first was handled (pipelined in one read, an event sent
    // right after `41` is still dispatched to the closing socket, and refused with a protocol:error).
    const table: Array<[string[], boolean, Expectation, string]> = [
      [['9'], true, { mustClose: true }, 'unknown Engine.IO type'],
      [['7hello'], false, { mustClose: true }, 'unknown Engine.IO type'],
      [['x'], true, { mustClose: true }, 'unknown Engine.IO type'],
      [[''], true, { mustClose: true }, 'empty frame'],
      [['4x'], true, { mustClose: true }, 'message with an unknown Socket.IO type'],
      [['4'], true, { mustClose: true }, 'message without data'],
      [['2'], true, { mustClose: true }, 'ping from a v4 client (invalid heartbeat direction)'],
      [['2probe'], false, { mustClose: true }, 'upgrade probe on a WebSocket session'],
      [['bAAAA'], true, { mustClose: true }, 'base64 binary message with no binary packet pending'],
      [['b!!!'], false, { mustClose: true }, 'invalid base64'],
      [['6'], true, { mustBeSilent: true }, 'noop'],
      [['6garbage'], false, { mustBeSilent: true }, 'noop with data'],
      [['5'], true, { mustBeSilent: true }, 'upgrade on a WebSocket session'],
      [['0'], true, { mustBeSilent: true }, 'open from a client'],
      [['0{"sid":"forged"}'], true, { mustBeSilent: true }, 'open from a client with data'],
      [['1'], true, { mustBeSilent: true }, 'Engine.IO close packet'],
      [['3'], true, { mustBeSilent: true }, 'unsolicited pong'],
      [['3probe'], false, { mustBeSilent: true }, 'unsolicited probe pong'],
      [['4/unknown,'], true, { mustClose: true }, 'namespace where the Socket.IO type belongs'],
      [['47'], true, { mustClose: true }, 'Socket.IO type 7'],
      [['49[]'], false, { mustClose: true }, 'Socket.IO type 9'],
      [['42abc['], true, { mustClose: true }, 'unparsable event JSON'],
      [['4['], true, { mustClose: true }, 'no Socket.IO type'],
      [['4-1'], true, { mustClose: true }, 'no Socket.IO type'],
      [['42[]'], true, { mustClose: true }, 'event without a name'],
      [['42{}'], true, { mustClose: true }, 'event that is not an array'],
      [['42"room:join"'], true, { mustClose: true }, 'event that is not an array'],
      [['42[null]'], true, { mustClose: true }, 'event named null'],
      [['42["disconnect"]'], true, { mustClose: true }, 'reserved event name'],
      [['42/live,["room:join",{"room":"h:1"}]'], true, { mustClose: true }, 'event on a namespace not connected'],
      [['42["room:join",{"room":"h:1"}]'], false, { mustClose: true }, 'event before any namespace connect'],
      [['42'], true, { protocolErrorFor: '', codes: ['UNKNOWN_EVENT'] }, 'event without data'],
      [['421'], true, { ackId: 1, codes: ['UNKNOWN_EVENT'] }, 'event without data, with an ack id'],
      [['42[1,2]'], true, { protocolErrorFor: '', codes: ['UNKNOWN_EVENT'] }, 'numeric event name'],
      [['42["room:join"]'], true, { protocolErrorFor: 'room:join', codes: ['INVALID_PAYLOAD'] }, 'protocol event without payload or ack'],
      [['427["room:join"]'], true, { ackId: 7, codes: ['INVALID_PAYLOAD'] }, 'protocol event with an ack but no payload'],
      [['42/,["room:leave",{"room":"h:1"}]'], true, { protocolErrorFor: 'room:leave', codes: ['INVALID_PAYLOAD'] }, 'explicit "/" namespace, no ack'],
      [[`42${Number.MAX_SAFE_INTEGER}["nope"]`], true, { ackId: Number.MAX_SAFE_INTEGER, codes: ['UNKNOWN_EVENT'] }, 'largest exact ack id'],
      [['42["room:join",{"room":{"_placeholder":true,"num":0}}]'], true, { protocolErrorFor: 'room:join', codes: ['INVALID_PAYLOAD'] }, 'placeholder in a text packet'],
      [['40'], true, { mustClose: true }, 'second CONNECT to "/"'],
      [['40'], false, { silentAllowed: false }, 'CONNECT without auth (typed UNAUTHENTICATED)'],
      [['40/live,'], true, { silentAllowed: false }, 'CONNECT to /live without auth (typed UNAUTHENTICATED)'],
      [['40/nope,'], true, { silentAllowed: false }, 'CONNECT to an undeclared namespace (Invalid namespace)'],
      [['40"token"'], false, { mustClose: true }, 'CONNECT payload that is not an object'],
      [['40[{"token":"x"}]'], false, { mustClose: true }, 'CONNECT payload that is an array'],
      [['41'], true, { mustBeSilent: true }, 'DISCONNECT of the connected namespace'],
      [['41', '42["room:leave",{"room":"h:1"}]'], true, { mustClose: true }, 'an event after DISCONNECT'],
      [['41'], false, { mustClose: true }, 'DISCONNECT of a namespace not connected'],
      [['41{}'], true, { mustClose: true }, 'DISCONNECT with data'],
      [['43'], true, { mustBeSilent: true }, 'ACK without id'],
      [['4399[{"ok":true}]'], true, { mustBeSilent: true }, 'ACK of an id never issued'],
      [['43{}'], true, { mustClose: true }, 'ACK that is not an array'],
      [['43/live,1[]'], true, { mustClose: true }, 'ACK on a namespace not connected'],
      [['44'], true, { mustClose: true }, 'CONNECT_ERROR from a client'],
      [['44{"message":"x"}'], false, { mustClose: true }, 'CONNECT_ERROR from a client'],
      [['45'], true, { mustClose: true }, 'BINARY_EVENT without attachment count'],
      [['450-["room:join",{}]'], true, { mustClose: true }, 'BINARY_EVENT with 0 attachments'],
      [['4511-["room:join",{}]'], true, { mustClose: true }, 'BINARY_EVENT with more than 10 attachments'],
      [['451-["room:join",{"room":{"_placeholder":true,"num":0}}]', '42["room:leave",{"room":"h:1"}]'], true, { mustClose: true }, 'text while an attachment is pending'],
      [['46'], true, { mustClose: true }, 'BINARY_ACK without attachment count'],
    ];
    it(`malformed Engine.IO and Socket.IO packets: ${table.length} cases, each answered as documented`, async () => {
      for (const [frames, connected, expectation, why] of table) {
        await withClient(connected, async (client) => {
          const from = client.frames.length;
          for (const [index, frame] of frames.entries()) {
            if (index > 0) await client.probe(ANSWER_WAIT_MS);
            client.sendText(frame);
          }
          const context = `${JSON.stringify(frames)} ${connected ? 'after' : 'before'} connect (${why})`;
          tally('malformed table', await settle(client, from, expectation, context));
          if (expectation.ackId !== undefined || expectation.protocolErrorFor !== undefined) {
            expect(client.isOpen, `${context}: a typed error, and the connection stays`).to.equal(true);
          }
        });
      }
    });
  });

  describe('handshake and heartbeat', () => {
    const refused: Array<[Record<string, string>, Record<string, string>, string]> = [
      [{ EIO: '3' }, {}, 'Engine.IO v3 (not allowed)'],
      [{ EIO: '5' }, {}, 'an unknown Engine.IO version'],
      [{ EIO: 'x' }, {}, 'a malformed Engine.IO version'],
      [{ transport: 'polling' }, {}, 'a WebSocket upgrade claiming the polling transport'],
      [{ transport: 'carrier-pigeon' }, {}, 'an unknown transport'],
      [{ sid: 'test-node.forged-session-id' }, {}, 'the session id of no session'],
      [{}, { origin: 'https://evil.example' }, 'an Origin outside CORS_ORIGINS'],
    ];
    // Engine.IO checks the transport and the protocol version only after `ws` has completed the upgrade: those
    // get a 101 and then a raw "HTTP/1.1 400" (which a WebSocket client reads as an invalid frame) or a close
    // frame. Either way: no session, no silence.
    it(`WebSocket upgrades with hostile query or headers (${refused.length} cases) are refused: an HTTP 4xx or the upgrade torn down`, async () => {
      for (const [query, headers, why] of refused) {
        let error: unknown = null;
        try {
          const client = await RawEngineClient.connect(gw.url, { query, headers, openTimeoutMs: ANSWER_WAIT_MS });
          openClients.add(client);
        } catch (caught) {
          error = caught;
        }
        expect(error, `${why}: an Engine.IO session was opened`).to.be.instanceOf(Error);
        expect(String(error), `${why}: silence`).not.to.match(/no Engine.IO open packet/);
        expect(String(error), why).to.match(/handshake refused with HTTP 4\d\d|Invalid WebSocket frame|closed \(\d+\) before the Engine.IO open packet/);
        tally('handshake refusals', `${why}: ${String(error).replace(/^(Range)?Error: /, '')}`);
      }
      await waitFor(() => gw.gateway.io.engine.clientsCount === 1, ANSWER_WAIT_MS, 'no session left behind');
    });

    it('a client that stops answering pings is disconnected by the gateway (pingInterval + pingTimeout), before and after the namespace connect', async function () {
      this.timeout(20_000);
      const idle = await Promise.all([false, true].map(async (connected) => {
        const client = await RawEngineClient.connect(gw.url, { autoPong: false });
        openClients.add(client);
        if (connected) expect((await client.connectNamespace({ token: hostileToken })).status).to.equal('matched');
        return client;
      }));
      const bound = idle[0]!.open.pingInterval + idle[0]!.open.pingTimeout + 3000;
      for (const client of idle) {
        const outcome = await client.waitFor(() => false, bound);
        expect(outcome.status, 'closed by the gateway').to.equal('closed');
        expect(client.closed?.byClient).to.equal(false);
        expect(client.frames.some((frame) => frame.engineType === '2'), 'was pinged').to.equal(true);
        checkFrames(client);
      }
      await waitFor(() => gw.gateway.io.engine.clientsCount === 1, ANSWER_WAIT_MS, 'the idle connections to be released');
    });
  });

  describe('protocol events', () => {
    it('each protocol event with arbitrary JSON payloads (and extra arguments), with and without an ack id', async () => {
      const name = 'arbitrary JSON payloads';
      await property(
        name,
        fc.record({ event: fc.constantFrom(...PROTOCOL_EVENTS), payload: anyJson, extra: fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 2 }), withAck: fc.boolean() }),
        ({ event, payload, extra, withAck }) =>
          withClient(true, async (client) => {
            const valid = extra.length === 0 && SCHEMAS[event].safeParse(wire(payload)).success;
            const from = client.frames.length;
            // A payload that passes the schema may succeed or meet any typed refusal (FORBIDDEN_ROOM, ...); anything else is INVALID_PAYLOAD.
            // Without an ack id, the request is refused for that alone (INVALID_PAYLOAD), whatever the payload.
            const expectation = sendEvent(client, [event, payload, ...extra], withAck, withAck && valid ? ANY_CODE : ['INVALID_PAYLOAD'], valid);
            tally(name, await settle(client, from, expectation, `${event} ${JSON.stringify(payload)?.slice(0, 200)} extra ${extra.length} ack ${withAck}`));
            expect(client.isOpen, 'a refused request does not cost the connection').to.equal(true);
          }),
        200,
      );
    });

    it('a wrong value (or a missing field, an unknown key, a non-object) in every field of every protocol event: INVALID_PAYLOAD', async () => {
      const name = 'wrong types per field';
      await property(
        name,
        wrongTypeCase,
        async ({ event, mutation, withAck }) => {
          const payload = wire(applyMutation(FIELDS[event].base, mutation));
          fc.pre(!SCHEMAS[event].safeParse(payload).success); // e.g. deleting an optional field leaves it valid
          await withClient(true, async (client) => {
            const from = client.frames.length;
            const expectation = sendEvent(client, [event, payload], withAck, ['INVALID_PAYLOAD']);
            tally(name, await settle(client, from, expectation, `${event} ${JSON.stringify(payload).slice(0, 200)} ack ${withAck}`));
            expect(client.isOpen).to.equal(true);
          });
        },
        250,
      );
    });

    it('unknown event names (any string, numbers, names of server events and of Object.prototype): UNKNOWN_EVENT, or a close for names Socket.IO reserves', async () => {
      const name = 'unknown events';
      const known = new Set<string>(PROTOCOL_EVENTS);
      await property(
        name,
        fc.record({
          event: fc.oneof(
            fc.string({ maxLength: 300 }),
            fc.string({ unit: 'binary', maxLength: 150 }),
            fc.integer(),
            fc.constantFrom('error', 'message', 'protocol:error', 'server:draining', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'room:join ', 'ROOM:JOIN', 'room:*', ...SOCKET_IO_RESERVED),
          ),
          args: fc.array(fc.jsonValue({ maxDepth: 3 }), { maxLength: 3 }),
          withAck: fc.boolean(),
        }),
        async ({ event, args, withAck }) => {
          fc.pre(typeof event !== 'string' || !known.has(event));
          await withClient(true, async (client) => {
            const from = client.frames.length;
            const reserved = typeof event === 'string' && SOCKET_IO_RESERVED.includes(event);
            const expectation = sendEvent(client, [event, ...args], withAck, ['UNKNOWN_EVENT']);
            tally(name, await settle(client, from, reserved ? { mustClose: true } : expectation, `event ${JSON.stringify(event).slice(0, 120)} ack ${withAck}`));
          });
        },
        200,
      );
    });

    it('deep nesting (1,000 to 30,000 levels) in every position: a typed error, or a close when the frame is too large or not a packet', async () => {
      const name = 'deep nesting';
      type Position = 'payload' | 'data' | 'since' | 'extra-arg' | 'unknown-event' | 'event-name' | 'auth-token' | 'auth';
      await property(
        name,
        fc.record({
          levels: fc.integer({ min: 1000, max: 30_000 }),
          shape: fc.constantFrom('array' as const, 'object' as const),
          position: fc.constantFrom<Position>('payload', 'data', 'since', 'extra-arg', 'unknown-event', 'event-name', 'auth-token', 'auth'),
          event: fc.constantFrom(...PROTOCOL_EVENTS),
          withAck: fc.boolean(),
        }),
        ({ levels, shape, position, event, withAck }) =>
          withClient(!position.startsWith('auth'), async (client) => {
            const deep = deepJson(levels, shape);
            if (position === 'data') await joinRoom(client, 'h:deep');
            const from = client.frames.length;
            const context = `${levels} levels of ${shape} as ${position} (${event}, ack ${withAck})`;
            let frame: string;
            let expectation: Expectation;
            if (position === 'auth-token' || position === 'auth') {
              frame = position === 'auth' ? `40${deep}` : `40{"token":${deep}}`;
              // The handshake payload must be an object: a deep array is a malformed CONNECT (close); an object without a string token is UNAUTHENTICATED.
              expectation = position === 'auth' && shape === 'array' ? { mustClose: true } : { silentAllowed: false };
            } else {
              const bodies: Record<Exclude<Position, 'auth-token' | 'auth'>, [string, string]> = {
                payload: [`["${event}",${deep}]`, event],
                data: [`["room:publish",{"room":"h:deep","event":"e","data":${deep}}]`, 'room:publish'],
                since: [`["room:join",{"room":"h:1","since":${deep}}]`, 'room:join'],
                'extra-arg': [`["${event}",{"room":"h:1"},${deep}]`, event],
                'unknown-event': [`["nope:deep",${deep}]`, 'nope:deep'],
                'event-name': [`[${deep},1]`, ''],
              };
              const [argsJson, eventName] = bodies[position];
              const id = withAck ? client.nextAckId() : undefined;
              frame = `42${id ?? ''}${argsJson}`;
              const codes: readonly ErrorCode[] = position === 'unknown-event' ? ['UNKNOWN_EVENT'] : ['INVALID_PAYLOAD'];
              // An event name that is not a string or number is not a Socket.IO packet: close.
              if (position === 'event-name') expectation = { mustClose: true };
              else expectation = id !== undefined ? { ackId: id, codes } : { protocolErrorFor: eventName, codes };
            }
            if (Buffer.byteLength(frame) > MAX_FRAME_BYTES) expectation = { mustClose: true, closeCode: 1009 };
            client.sendText(frame);
            const outcome = await settle(client, from, expectation, context);
            tally(name, outcome);
            if (outcome === 'answered') {
              const answer = client.framesSince(from).find((f) => f.sio?.type === 4 && f.sio.nsp === '/');
              expect((answer?.sio?.data as { data?: { code?: string } } | undefined)?.data?.code, context).to.equal('UNAUTHENTICATED');
            }
          }),
        80,
      );
    });

    it('huge strings near and beyond MAX_PAYLOAD_BYTES and the transport limit, in every position', async () => {
      const name = 'huge strings';
      type Position = 'data' | 'room' | 'event' | 'idempotencyKey' | 'token' | 'unknown-event' | 'unknown-key' | 'auth-token';
      const nearPayload = fc.integer({ min: MAX_PAYLOAD_BYTES - 64, max: MAX_PAYLOAD_BYTES + 64 });
      const nearFrame = fc.integer({ min: MAX_FRAME_BYTES - 200, max: MAX_FRAME_BYTES + 200 });
      await property(
        name,
        fc.record({
          length: fc.oneof(nearPayload, nearFrame, fc.integer({ min: 201, max: 150_000 })),
          /** Exactly at the transport limit, one byte under, or one over (ASCII only). */
          atLimit: fc.option(fc.constantFrom(-1, 0, 1), { nil: undefined }),
          char: fc.constantFrom('x', 'é', '€', '😀'),
          position: fc.constantFrom<Position>('data', 'room', 'event', 'idempotencyKey', 'token', 'unknown-event', 'unknown-key', 'auth-token'),
          withAck: fc.boolean(),
        }),
        ({ length, atLimit, char, position, withAck }) =>
          withClient(position !== 'auth-token', async (client) => {
            if (position === 'data' || position === 'event' || position === 'idempotencyKey') await joinRoom(client, 'h:big');
            const from = client.frames.length;
            const id = withAck ? client.nextAckId() : undefined;
            const build = (s: string): { frame: string; event: string; codes: readonly ErrorCode[]; okAllowed: boolean } => {
              switch (position) {
                case 'data': {
                  const ok = Buffer.byteLength(JSON.stringify(s)) <= MAX_PAYLOAD_BYTES;
                  return { frame: encodeEvent(['room:publish', { room: 'h:big', event: 'e', data: s }], { id }), event: 'room:publish', codes: ['PAYLOAD_TOO_LARGE'], okAllowed: ok };
                }
                case 'room':
                  return { frame: encodeEvent(['room:join', { room: s }], { id }), event: 'room:join', codes: ['INVALID_PAYLOAD'], okAllowed: false };
                case 'event':
                  return { frame: encodeEvent(['room:publish', { room: 'h:big', event: s, data: 1 }], { id }), event: 'room:publish', codes: ['INVALID_PAYLOAD'], okAllowed: false };
                case 'idempotencyKey':
                  return { frame: encodeEvent(['room:publish', { room: 'h:big', event: 'e', data: 1, idempotencyKey: s }], { id }), event: 'room:publish', codes: ['INVALID_PAYLOAD'], okAllowed: false };
                case 'token':
                  return { frame: encodeEvent(['auth:refresh', { token: s }], { id }), event: 'auth:refresh', codes: ['INVALID_PAYLOAD', 'UNAUTHENTICATED'], okAllowed: false };
                case 'unknown-event':
                  return { frame: encodeEvent([s, {}], { id }), event: s.slice(0, 100), codes: ['UNKNOWN_EVENT'], okAllowed: false };
                case 'unknown-key':
                  return { frame: encodeEvent(['room:leave', { room: 'h:1', [s]: 1 }], { id }), event: 'room:leave', codes: ['INVALID_PAYLOAD'], okAllowed: false };
                case 'auth-token':
                  return { frame: `40${JSON.stringify({ token: s })}`, event: '', codes: ['UNAUTHENTICATED'], okAllowed: false };
              }
            };
            let text = char.repeat(length);
            if (atLimit !== undefined) {
              const overhead = Buffer.byteLength(build('').frame);
              text = 'x'.repeat(Math.max(1, MAX_FRAME_BYTES - overhead + atLimit));
            }
            const built = build(text);
            const frame = built.frame;
            client.sendText(frame);
            let expectation: Expectation;
            if (Buffer.byteLength(frame) > MAX_FRAME_BYTES) expectation = { mustClose: true, closeCode: 1009 };
            else if (position === 'auth-token') expectation = { silentAllowed: false };
            else if (id !== undefined) expectation = { ackId: id, codes: built.codes, okAllowed: built.okAllowed };
            // Without an ack id, a protocol event is refused for that alone (INVALID_PAYLOAD); an unknown one is UNKNOWN_EVENT.
            else expectation = { protocolErrorFor: built.event, codes: position === 'unknown-event' ? ['UNKNOWN_EVENT'] : ['INVALID_PAYLOAD'] };
            const context = `${position}: ${text.length} × ${JSON.stringify(text.charAt(0))}, frame ${Buffer.byteLength(frame)} bytes, ack ${withAck}`;
            const outcome = await settle(client, from, expectation, context);
            tally(name, outcome);
            if (outcome === 'ack-ok') expect(built.okAllowed, context).to.equal(true);
            if (expectation.ackId !== undefined && built.okAllowed === false && position === 'data') expect(outcome).to.equal('ack-error');
            if (position === 'data' && outcome === 'ack-error') {
              // The size limit is on bytes of JSON text, so multi-byte characters count as what they weigh.
              const error = ackResponse(client.ackFor(id as number) as SioPacket).error as { code: string };
              expect(error.code, context).to.equal('PAYLOAD_TOO_LARGE');
            }
            if (position === 'auth-token' && outcome === 'answered') {
              const answer = client.framesSince(from).find((f) => f.sio?.type === 4 && f.sio.nsp === '/');
              expect((answer?.sio?.data as { data?: { code?: string } } | undefined)?.data?.code, context).to.equal('UNAUTHENTICATED');
            }
          }),
        80,
      );
    });

    it('binary attachments where text is expected, in every field of every protocol event, and malformed binary packets', async () => {
      const name = 'binary attachments';
      type Variant = 'in-field' | 'whole-payload' | 'unknown-event' | 'num-out-of-range' | 'num-not-a-number' | 'missing-attachment' | 'binary-ack' | 'stray-binary' | 'base64-frame';
      const fieldCase = fc.constantFrom(...PROTOCOL_EVENTS).chain((event) => fc.record({ event: fc.constant(event), path: fc.constantFrom(...FIELDS[event].paths, ['data']) }));
      await property(
        name,
        fc.record({
          variant: fc.constantFrom<Variant>('in-field', 'in-field', 'in-field', 'whole-payload', 'unknown-event', 'num-out-of-range', 'num-not-a-number', 'missing-attachment', 'binary-ack', 'stray-binary', 'base64-frame'),
          field: fieldCase,
          bytes: fc.uint8Array({ maxLength: 512 }),
          outOfRange: fc.oneof(fc.integer({ min: 1, max: 20 }), fc.integer({ min: -5, max: -1 })),
          withAck: fc.boolean(),
        }),
        ({ variant, field, bytes, outOfRange, withAck }) =>
          withClient(true, async (client) => {
            const { event, path } = field;
            if (event === 'room:publish' && variant === 'in-field') await joinRoom(client, 'h:1');
            const from = client.frames.length;
            const id = withAck ? client.nextAckId() : undefined;
            const context = `${variant} ${event} ${path.join('.')} ack ${withAck}`;
            let expectation: Expectation;
            const expectRefusal = (eventName: string, codes: readonly ErrorCode[]): Expectation => (id !== undefined ? { ackId: id, codes } : { protocolErrorFor: eventName, codes });
            switch (variant) {
              case 'in-field': {
                // ['data'] is the publication's data in room:publish, an unknown key anywhere else.
                const payload = applyMutation(FIELDS[event].base, { kind: 'set', path, value: placeholder(0) });
                client.emitBinary([event, payload], [bytes], id);
                expectation = expectRefusal(event, ['INVALID_PAYLOAD']);
                break;
              }
              case 'whole-payload':
                client.emitBinary([event, placeholder(0)], [bytes], id);
                expectation = expectRefusal(event, ['INVALID_PAYLOAD']);
                break;
              case 'unknown-event':
                client.emitBinary(['nope:binary', placeholder(0)], [bytes], id);
                expectation = expectRefusal('nope:binary', ['UNKNOWN_EVENT']);
                break;
              case 'num-out-of-range':
                // socket.io-parser refuses an attachment index it does not have ("illegal attachments").
                client.emitBinary([event, { room: placeholder(outOfRange) }], [bytes], id);
                expectation = { mustClose: true };
                break;
              case 'num-not-a-number':
                client.emitBinary([event, { room: { _placeholder: true, num: '0' } }], [bytes], id);
                expectation = { mustClose: true };
                break;
              case 'missing-attachment':
                // Two announced, one sent, then a text packet while the second is awaited.
                client.sendText(encodeEvent([event, { room: placeholder(0), x: placeholder(1) }], { attachments: 2, ...(id !== undefined ? { id } : {}) }));
                client.sendBinary(bytes);
                client.emit('room:leave', { room: 'h:1' });
                expectation = { mustClose: true };
                break;
              case 'binary-ack':
                // A BINARY_ACK of an id the server never issued: dropped (DOCUMENTED_SILENT).
                client.sendText(`461-${id ?? 5}[${JSON.stringify(placeholder(0))}]`);
                client.sendBinary(bytes);
                expectation = { mustBeSilent: true };
                break;
              case 'stray-binary':
                client.sendBinary(bytes);
                expectation = { mustClose: true };
                break;
              case 'base64-frame':
                client.sendText(`b${Buffer.from(bytes).toString('base64')}`);
                expectation = { mustClose: true };
                break;
            }
            tally(name, await settle(client, from, expectation, context));
          }),
        150,
      );
    });

    it('handshake auth payloads of any shape, on "/" and "/live": a typed UNAUTHENTICATED, or a close when not an object', async () => {
      const name = 'handshake payloads';
      await property(
        name,
        fc.record({
          auth: fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.record({ token: fc.jsonValue({ maxDepth: 2 }) }), fc.record({ token: fc.string({ maxLength: 300 }) })),
          nsp: fc.constantFrom('/', '/live'),
        }),
        ({ auth, nsp }) =>
          withClient(false, async (client) => {
            const from = client.frames.length;
            const isObject = typeof auth === 'object' && auth !== null && !Array.isArray(auth);
            const outcome = await client.connectNamespace(auth, nsp, ANSWER_WAIT_MS);
            const context = `${nsp} auth ${JSON.stringify(auth).slice(0, 200)}`;
            // A number written right after the CONNECT type reads as a packet id (`40` + `7` = CONNECT id 7,
            // no payload): Socket.IO then sees no auth at all, which is UNAUTHENTICATED, not a malformed packet.
            if (typeof auth === 'number' && Number.isInteger(auth) && auth >= 0) {
              if (outcome.status === 'matched') {
                expect((outcome.value.data as { data?: { code?: string } }).data?.code, context).to.equal('UNAUTHENTICATED');
                tally(name, 'connect-error');
              } else tally(name, await settle(client, from, { mustClose: true }, context));
              return;
            }
            if (!isObject) {
              tally(name, await settle(client, from, { mustClose: true }, context));
              return;
            }
            if (outcome.status !== 'matched') throw new Error(`${context}: ${outcome.status}`);
            expect(outcome.value.type, `${context}: refused`).to.equal(4);
            expect((outcome.value.data as { data?: { code?: string } }).data?.code, context).to.equal('UNAUTHENTICATED');
            tally(name, 'connect-error');
            // The refusal leaves the Engine.IO connection usable: a valid token connects now.
            const retry = await client.connectNamespace({ token: hostileToken }, nsp, ANSWER_WAIT_MS);
            expect(retry.status === 'matched' && retry.value.type, `${context}: retry with a valid token`).to.equal(0);
          }),
        150,
      );
    });
  });

  describe('floods', () => {
    it('5,000 events without acks and 5,000 with acks, as fast as possible: each answered (served, then RATE_LIMITED) or the attacker disconnected; others served meanwhile', async () => {
      const flood = 5000;
      const noAck = await openRaw(true);
      const withAck = await openRaw(true);
      const unknown = await openRaw(true);
      const bystander = await connect(gw.url, await signToken(gw.secret, { sub: 'bystander', rooms: ['control:*'] }), { parser: 'json' });
      const bystanderMessages = collectMessages(bystander);
      try {
        const started = Date.now();
        const filler = 'f'.repeat(1024);
        for (let i = 0; i < flood; i += 1) {
          noAck.emit('presence:list', { room: 'h:flood' });
          withAck.emitWithAckId('presence:list', { room: 'h:flood' });
          unknown.emit('nope:flood', filler);
        }
        // Meanwhile, honest clients join, publish over the socket and over HTTP, and receive.
        assertOk(await request(bystander, 'room:join', { room: CONTROL_ROOM }));
        for (let i = 0; i < 5; i += 1) {
          assertOk(await request(control, 'room:publish', { room: CONTROL_ROOM, event: 'during-flood', data: { i } }));
          expect((await httpPublish(gw.url, { room: CONTROL_ROOM, event: 'during-flood-http', data: { i } })).status).to.equal(200);
        }
        const received = (messages: Message[]): number => messages.filter((m) => m.event.startsWith('during-flood')).length;
        await waitFor(() => received(controlMessages) === 10 && received(bystanderMessages) === 10, 10_000, 'honest clients to receive during the flood');

        const acks = (client: RawEngineClient): SioPacket[] => client.frames.flatMap((frame) => (frame.sio?.type === 3 ? [frame.sio] : []));
        const errors = (client: RawEngineClient): Array<{ code: ErrorCode }> => protocolErrorsSince(client, 0);
        const outcomes = await Promise.all([
          noAck.waitFor(() => errors(noAck).length >= flood, 30_000),
          withAck.waitFor(() => acks(withAck).length >= flood, 30_000),
          unknown.waitFor(() => errors(unknown).length >= flood, 30_000),
        ]);
        const elapsedS = (Date.now() - started) / 1000;
        // The bucket holds BURST and refills RATE per second: nothing beyond that may be served.
        const servedBound = RATE_LIMIT_BURST + Math.ceil(RATE_LIMIT_PER_S * (elapsedS + 1));
        const report: Record<string, unknown> = { elapsedS };
        for (const [label, client, outcome, list] of [
          ['no-ack', noAck, outcomes[0], errors(noAck)],
          ['ack', withAck, outcomes[1], acks(withAck).map((ack) => ackResponse(ack))],
          ['unknown', unknown, outcomes[2], errors(unknown)],
        ] as const) {
          if (outcome.status === 'timeout') throw new Error(`${label}: neither ${flood} answers nor a close (got ${list.length})`);
          const byCode: Record<string, number> = {};
          for (const item of list as Array<{ code?: string; ok?: boolean; error?: { code: string } }>) {
            const code = item.ok === true ? 'ok' : (item.code ?? item.error?.code ?? '?');
            byCode[code] = (byCode[code] ?? 0) + 1;
          }
          report[label] = { ...byCode, closed: client.closed?.code ?? false };
          checkFrames(client);
          if (outcome.status === 'closed') continue; // disconnected: also an acceptable answer to a flood
          expect(list.length, label).to.equal(flood);
          const limited = byCode.RATE_LIMITED ?? 0;
          expect(flood - limited, `${label}: served beyond the rate limit ${JSON.stringify(byCode)}`).to.be.at.most(servedBound);
          expect(limited, label).to.be.at.least(flood - servedBound);
          const allowed = label === 'ack' ? ['ok', 'RATE_LIMITED'] : label === 'no-ack' ? ['INVALID_PAYLOAD', 'RATE_LIMITED'] : ['UNKNOWN_EVENT', 'RATE_LIMITED'];
          expect(allowed, `${label}: ${JSON.stringify(byCode)}`).to.include.members(Object.keys(byCode));
        }
        tally('floods', JSON.stringify(report));
      } finally {
        bystander.close();
      }
    });
  });

  describe('memory', () => {
    it('5 rounds of 40 hostile connections: heap growth after GC stays under 20 MB and every connection is released', async function () {
      this.timeout(45_000);
      setFlagsFromString('--expose-gc');
      const gc = runInNewContext('gc') as () => void;
      const heapAfterGc = async (): Promise<number> => {
        for (let i = 0; i < 4; i += 1) {
          gc();
          await new Promise((resolve) => setImmediate(resolve));
        }
        return process.memoryUsage().heapUsed;
      };
      const garbage = fc.sample(textFrame, { numRuns: 40, seed: 42 });
      const deep = deepJson(20_000, 'array');
      const large = 'L'.repeat(60_000);
      const session = async (round: number, index: number): Promise<void> => {
        const token = await signToken(gw.secret, { sub: `mallory-${round}-${index}`, rooms: HOSTILE_ROOMS });
        const client = await openRaw(index % 5 !== 0, token);
        const bytes = Buffer.alloc(512, index);
        client.sendText('40{"token":"not-a-jwt"}'); // a second connect, or a refused one
        for (let i = 0; i < 20; i += 1) {
          client.emitWithAckId('room:join', { room: i % 2 === 0 ? `h:${round}:${index}:${i}` : { bad: i } });
          client.emitWithAckId(`nope:${i}`, 'u'.repeat(1024));
          client.emit('room:publish', { room: 'h:x', event: 'e', data: large.slice(0, 5000) });
        }
        client.sendText(`421${deep}`);
        client.sendText(`421["room:leave",{"room":"h:1","${large}":1}]`);
        client.emitBinary(['room:publish', { room: 'h:x', event: 'e', data: placeholder(0) }], [bytes], client.nextAckId());
        for (let i = 0; i < 200; i += 1) client.emit('presence:list', { room: 'h:x' });
        for (const frame of garbage.slice(index % 4, (index % 4) + 10)) client.sendText(frame);
        await client.probe(ANSWER_WAIT_MS);
        // End: closed by the gateway (garbage, oversize), or by the attacker (clean close or a dropped socket).
        switch (index % 4) {
          case 0:
            client.sendText('9');
            break;
          case 1:
            client.sendText(`4${'x'.repeat(MAX_FRAME_BYTES + 10)}`);
            break;
          case 2:
            client.terminate();
            break;
          default:
            break;
        }
        await dispose(client);
      };
      const round = async (index: number): Promise<void> => {
        await Promise.all(Array.from({ length: 40 }, (_, i) => session(index, i)));
        await waitFor(() => gw.gateway.io.engine.clientsCount === 1, 10_000, 'hostile connections to be released');
      };
      await round(0); // warm-up: code paths compiled, pools allocated
      const before = await heapAfterGc();
      for (let r = 1; r <= 5; r += 1) await round(r);
      const after = await heapAfterGc();
      const growthMb = (after - before) / (1024 * 1024);
      tally('memory', `heap growth ${growthMb.toFixed(2)} MB (before ${(before / 1048576).toFixed(1)} MB)`);
      expect(growthMb, 'heap growth over 5 rounds (MB)').to.be.below(20);
      // Nothing of the attackers is left: only the control client's connection, socket and rooms.
      expect(gw.gateway.io.engine.clientsCount, 'Engine.IO connections').to.equal(1);
      expect(gw.gateway.io.of('/').sockets.size, 'sockets in "/"').to.equal(1);
      expect(gw.gateway.io.of('/live').sockets.size, 'sockets in "/live"').to.equal(0);
      const rooms = [...gw.gateway.io.of('/').adapter.rooms.keys()];
      expect(rooms.filter((room) => room.startsWith('h:')), 'rooms of the attackers').to.deep.equal([]);
    });
  });
});
