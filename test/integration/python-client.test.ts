/**
 * Any Socket.IO client: test/interop/python_client.py, a plain python-socketio
 * program (Debian's python3-socketio 5.7.2, run with /usr/bin/python3), against
 * a real gateway over each transport alone: WebSocket, and long-polling with
 * no upgrade. The script connects with a token, joins, receives HTTP and its
 * own publications (one retried with the same idempotency key), is refused a
 * room, disconnects twice while the backend publishes, rejoins with since
 * (exactly the missed offsets, then a gap larger than a join ack carries,
 * paged with room:history), resumes a saved position of a lost epoch, and
 * (a restarted app) a saved position with a new client. It prints JSON lines;
 * this test checks offsets, order, counts and the transport, as the script saw
 * them and as the gateway did.
 */
import { expect } from 'chai';
import { execFile, spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { api } from '../support/rest-api.js';
import { signToken } from '../../tools/processes/tokens.js';

const PYTHON = '/usr/bin/python3';
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SCRIPT = `${ROOT}test/interop/python_client.py`;
const ARTIFACTS = `${ROOT}test-artifacts`;
/** The script stops itself after this many seconds; the test kills it a little later. */
const SCRIPT_TIMEOUT_S = 90;
/** Publications made while the script is away the second time: more than a join ack carries (300). */
const GAP = 350;
const PAGE_LIMIT = 20;
const JOIN_MISSED_MAX = 300;

type Transport = 'websocket' | 'polling';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the script's JSON lines, checked field by field
type Line = Record<string, any>;

interface Run {
  code: number | null;
  lines: Line[];
  stderr: string;
  seconds: number;
}

function runScript(args: string[]): Promise<Run> {
  const started = Date.now();
  // Only PATH and LANG: no proxy variables, the script talks to 127.0.0.1.
  const child = spawn(PYTHON, [SCRIPT, ...args], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', LANG: 'C.UTF-8' } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => void (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => void (stderr += chunk.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), (SCRIPT_TIMEOUT_S + 10) * 1000);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(killer);
      const lines = stdout
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Line);
      resolve({ code, lines, stderr, seconds: (Date.now() - started) / 1000 });
    });
  });
}

/** What the gateway saw of the script's connections: each Engine.IO connection's transport, upgrades, and the connections gauge. */
interface ServerSide {
  engine: Array<{ transport: string; upgrades: string[] }>;
  /** At each Socket.IO connection of `/`: its transport, and roomcast_connections_active as /metrics would show it then. */
  sockets: Array<{ transport: string; gauge: Promise<string> }>;
}

function watchTransports(gw: TestGateway): { seen: ServerSide; stop(): void } {
  const seen: ServerSide = { engine: [], sockets: [] };
  const onEngine = (connection: { transport: { name: string }; on(event: 'upgrade', listener: (transport: { name: string }) => void): void }): void => {
    const entry = { transport: connection.transport.name, upgrades: [] as string[] };
    seen.engine.push(entry);
    connection.on('upgrade', (transport) => entry.upgrades.push(transport.name));
  };
  const onSocket = (socket: { conn: { transport: { name: string } } }): void => {
    // The gauge's collect runs when the read starts, so this is the figure of this very moment.
    seen.sockets.push({ transport: socket.conn.transport.name, gauge: gw.gateway.metrics.registry.getSingleMetricAsString('roomcast_connections_active') });
  };
  gw.gateway.io.engine.on('connection', onEngine);
  gw.gateway.io.of('/').on('connection', onSocket);
  return {
    seen,
    stop: () => {
      gw.gateway.io.engine.off('connection', onEngine);
      gw.gateway.io.of('/').off('connection', onSocket);
    },
  };
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('a Python Socket.IO client (python-socketio, Debian)', function () {
  this.timeout(150_000);
  let gw: TestGateway;

  before(async function () {
    const versions = await new Promise<string>((resolve, reject) => {
      const probe = "from importlib.metadata import version as v; print(v('python-socketio'), v('python-engineio'), v('websocket-client'), v('requests'))";
      execFile(PYTHON, ['-c', probe], { timeout: 20_000 }, (error, stdout, stderr) => {
        if (error === null) resolve(stdout.trim());
        else reject(new Error(`${PYTHON} lacks python3-socketio / python3-websocket / python3-requests (.ci/run installs them): ${stderr}`));
      });
    });
    expect(versions.split(' ')[0], 'python-socketio').to.match(/^5\./);
    // python-socketio's default serializer is Socket.IO's JSON encoding: the gateway runs PARSER=json whatever the suite's parser.
    gw = await startGateway({ PARSER: 'json' });
  });
  after(() => gw?.close());

  for (const transport of ['websocket', 'polling'] as const satisfies readonly Transport[]) {
    it(`${transport} only: auth, join, live and own publications, refusals, rejoin with since, a gap paged from history, an old epoch, a restart`, async () => {
      const user = `py-${transport}`;
      const room = `interop:${transport}:1`;
      const other = `${room}-b`;
      const token = await signToken(gw.secret, { sub: user, rooms: [`interop:${transport}:*`] });
      const watch = watchTransports(gw);
      let run: Run;
      try {
        run = await runScript([
          '--url', gw.url, '--token', token, '--api-key', gw.apiKey, '--room', room, '--forbidden-room', 'secret:1',
          '--transport', transport, '--gap', String(GAP), '--page-limit', String(PAGE_LIMIT), '--timeout', String(SCRIPT_TIMEOUT_S),
        ]);
      } finally {
        watch.stop();
      }
      await mkdir(ARTIFACTS, { recursive: true });
      await writeFile(`${ARTIFACTS}/python-client-${transport}.jsonl`, run.lines.map((line) => JSON.stringify(line)).join('\n') + '\n');

      const problems = run.lines.filter((line) => ['error', 'timeout', 'rejoin_failed', 'history_failed', 'protocol_error'].includes(line.event));
      expect(problems, run.stderr).to.deep.equal([]);
      expect(run.code, run.stderr).to.equal(0);
      const all = (event: string): Line[] => run.lines.filter((line) => line.event === event);
      const exactly = (event: string, count: number): Line[] => {
        const found = all(event);
        expect(found, event).to.have.length(count);
        return found;
      };
      const one = (event: string): Line => exactly(event, 1)[0] as Line;

      // The transport, as the client saw it on each connection...
      const [connected, connectedResumed] = exactly('connected', 2) as [Line, Line];
      expect([connected, ...exactly('reconnected', 2), connectedResumed, one('done')].map((line) => line.transport)).to.deep.equal(Array(5).fill(transport));
      expect([connected.client, connected.user, connectedResumed.client, connectedResumed.user]).to.deep.equal(['main', user, 'resumed', user]);
      // ...and as the gateway did: five Engine.IO connections (the refused one too) on that transport, never upgraded,
      // and the connections gauge counting each of the four Socket.IO connections, one at a time, under it.
      expect(watch.seen.engine).to.deep.equal(Array.from({ length: 5 }, () => ({ transport, upgrades: [] })));
      expect(watch.seen.sockets.map((socket) => socket.transport)).to.deep.equal(Array(4).fill(transport));
      const otherTransport = transport === 'websocket' ? 'polling' : 'websocket';
      for (const socket of watch.seen.sockets) {
        const gauge = await socket.gauge;
        expect(gauge).to.contain(`roomcast_connections_active{namespace="/",transport="${transport}"} 1`);
        expect(gauge).to.contain(`roomcast_connections_active{namespace="/",transport="${otherTransport}"} 0`);
      }

      // A bad token: the handshake is refused with the typed error in connect_error's data.
      expect(one('handshake_refused').error).to.deep.include({ code: 'UNAUTHENTICATED', retryable: false });
      // A room the token does not grant: the typed error ack.
      const refused = one('join_refused');
      expect(refused.room).to.equal('secret:1');
      expect(refused.error).to.deep.include({ code: 'FORBIDDEN_ROOM', retryable: false });
      expect(refused.error.message).to.be.a('string');

      const joins = all('joined')
        .filter((line) => line.client === 'main')
        .map((line) => line.details);
      const roomJoins = joins.filter((join) => join.room === room);
      expect(roomJoins).to.have.length(3);
      const [first, rejoin, bigRejoin] = roomJoins as [Line, Line, Line];
      const epoch = first.epoch as string;
      expect(first).to.deep.include({ since: null, offset: 0, recovered: true, missed: [] });

      // Live: three HTTP publications, then two of its own (the retry with the first key answered with its offset).
      const [httpLive, httpAway, httpGap, httpLater] = exactly('http_published', 4) as [Line, Line, Line, Line];
      expect(httpLive.offsets).to.deep.equal([1, 2, 3]);
      const published = one('published');
      expect(published.results.map((result: Line) => result.offset)).to.deep.equal([4, 5]);
      expect(published.retry).to.deep.equal(published.results[0]);
      expect(published.retry.epoch).to.equal(epoch);
      // The retry was broadcast again; the client dropped it.
      expect(all('duplicate').map((line) => [line.details.room, line.details.offset])).to.deep.include([room, 4]);
      expect(one('done').duplicates).to.be.at.least(1);

      // Away once: the rejoin with since gets exactly what was missed, in order; the personal room too.
      const [away, awayLonger, restart] = exactly('disconnected', 3) as [Line, Line, Line];
      expect(away.position).to.deep.equal({ epoch, offset: 5 });
      expect(httpAway.offsets).to.deep.equal([6, 7, 8, 9]);
      expect(rejoin).to.deep.include({ since: { epoch, offset: 5 }, epoch, offset: 9, recovered: true, missed: [6, 7, 8, 9] });
      // (The personal room is followed from the session event; it may also be rejoined right after the first connect.)
      const personal = joins.filter((join) => join.room === `user:${user}` && join.missed.length > 0);
      expect(personal).to.have.length(1);
      expect(personal[0]).to.deep.include({ since: { epoch: personal[0]?.epoch, offset: 0 }, offset: 1, recovered: true, missed: [1] });

      // Away longer: the join ack carries 300, room:history pages of PAGE_LIMIT carry the rest.
      expect(awayLonger.position).to.deep.equal({ epoch, offset: 9 });
      expect(httpGap).to.deep.include({ offsets: [10, 9 + GAP], count: GAP });
      expect(bigRejoin).to.deep.include({ since: { epoch, offset: 9 }, epoch, offset: 9 + GAP, recovered: true });
      expect(bigRejoin.missed).to.deep.equal(range(10, 9 + JOIN_MISSED_MAX));
      const pages = all('history').map((line) => line.details);
      const expectedPages = [];
      for (let from = 10 + JOIN_MISSED_MAX; from <= 9 + GAP; from += PAGE_LIMIT) {
        const last = Math.min(from + PAGE_LIMIT - 1, 9 + GAP);
        expectedPages.push({ room, since: { epoch, offset: from - 1 }, first: from, last, count: last - from + 1, recovered: true });
      }
      expect(pages.map((page) => ({ room: page.room, since: page.since, first: page.first, last: page.last, count: page.count, recovered: page.recovered }))).to.deep.equal(
        expectedPages,
      );

      // Every offset of the room once, in order, of one epoch, each the right publication, the way it was expected.
      const delivered = all('message').filter((line) => line.client === 'main' && line.room === room);
      expect(delivered.map((line) => line.offset)).to.deep.equal(range(1, 9 + GAP));
      expect(new Set(delivered.map((line) => line.epoch))).to.deep.equal(new Set([epoch]));
      expect(delivered.slice(0, 9).map((line) => line.data)).to.deep.equal([
        { n: 0 },
        { n: 1 },
        { n: 2 },
        { text: 'hello from python' },
        { text: 'second' },
        { away: 0 },
        { away: 1 },
        { away: 2 },
        { away: 3 },
      ]);
      expect(delivered.slice(9).map((line) => line.data)).to.deep.equal(range(0, GAP - 1).map((n) => ({ label: 'gap', n })));
      expect(delivered.map((line) => line.from ?? null).slice(0, 5)).to.deep.equal([null, null, null, user, user]);
      const how = (from: number, to: number): string[] => delivered.slice(from - 1, to).map((line) => line.how);
      expect(how(1, 5)).to.deep.equal(Array(5).fill('live'));
      expect(how(6, 9 + JOIN_MISSED_MAX)).to.deep.equal(Array(4 + JOIN_MISSED_MAX).fill('missed'));
      expect(how(10 + JOIN_MISSED_MAX, 9 + GAP)).to.deep.equal(Array(GAP - JOIN_MISSED_MAX).fill('history'));
      const personalMessages = all('message').filter((line) => line.client === 'main' && line.room === `user:${user}`);
      expect(personalMessages.map((line) => [line.offset, line.data, line.how])).to.deep.equal([[1, { text: 'while you were away' }, 'missed']]);

      // The app restarts: a new client resumes from the saved position and gets exactly what followed.
      const last = 9 + GAP;
      expect(restart.position).to.deep.equal({ epoch, offset: last });
      expect(httpLater.offsets).to.deep.equal([last + 1, last + 2]);
      const resumedJoin = all('joined').filter((line) => line.client === 'resumed' && line.details.room === room);
      expect(resumedJoin.map((line) => line.details)).to.deep.equal([
        { room, since: { epoch, offset: last }, epoch, offset: last + 2, recovered: true, missed: [last + 1, last + 2] },
      ]);
      const resumedMessages = all('message').filter((line) => line.client === 'resumed' && line.room === room);
      expect(resumedMessages.map((line) => [line.offset, line.epoch, line.data, line.how])).to.deep.equal([
        [last + 1, epoch, { later: 0 }, 'missed'],
        [last + 2, epoch, { later: 1 }, 'missed'],
      ]);
      expect(one('done').resumed).to.deep.equal({ epoch, offset: last + 2 });

      // The room's history, read by the backend, is what the two clients delivered.
      const history = await api(gw.url, `/api/v1/rooms/${encodeURIComponent(room)}/history?since=${encodeURIComponent(`${epoch}:0`)}&limit=1000`);
      expect(history.status).to.equal(200);
      expect(history.body.messages.map((message: Line) => [message.offset, message.data])).to.deep.equal(
        [...delivered, ...resumedMessages].map((line) => [line.offset, line.data]),
      );

      // A saved position of an epoch the room no longer has: an explicit epoch-changed gap, then the room from offset 1.
      const otherJoin = joins.find((join) => join.room === other);
      expect(otherJoin).to.deep.include({ since: { epoch: 'an-old-epoch', offset: 2 }, offset: 3, recovered: false, missed: [1, 2, 3] });
      expect(one('gap')).to.deep.include({ room: other, reason: 'epoch-changed' });
      expect(one('gap').details).to.deep.equal({ from: { epoch: 'an-old-epoch', offset: 2 }, epoch: otherJoin?.epoch });
      const otherMessages = all('message').filter((line) => line.client === 'main' && line.room === other);
      expect(otherMessages.map((line) => [line.offset, line.epoch])).to.deep.equal([1, 2, 3].map((offset) => [offset, otherJoin?.epoch]));
      expect(run.lines.indexOf(one('gap'))).to.be.below(run.lines.indexOf(otherMessages[0] as Line));
    });
  }
});
