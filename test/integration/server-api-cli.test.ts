/**
 * The `roomcast` CLI end to end, as a child process against a real gateway: a
 * token it mints connects, a publication it makes reaches a member, it reads
 * history and lists rooms, `webhook listen` verifies and prints deliveries (a
 * gateway's own with WEBHOOK_URL pointing at it), and its exit codes (0 done,
 * 1 refused, 2 usage).
 */
import { expect } from 'chai';
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt } from 'jose';
import { fileURLToPath } from 'node:url';
import { signBody, SIGNATURE_HEADER, type WebhookDelivery } from '../../shared/index.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { assertOk, collectMessages, connect, connectRefused, request, waitFor, type TestSocket } from '../support/sockets.js';

const CLI = fileURLToPath(new URL('../../server-api/cli/main.js', import.meta.url));
const WEBHOOK_SECRET = 'cli-webhook-secret-0123456789-abcdefghij';

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to its end with only the given environment (plus PATH). */
function roomcast(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

interface Listener {
  url: string;
  lines: Array<Record<string, unknown>>;
  child: ChildProcessWithoutNullStreams;
  stop(): Promise<number | null>;
}

/** Starts `roomcast webhook listen` and resolves once it printed where it listens. */
function listen(args: string[], env: Record<string, string>): Promise<Listener> {
  const child = spawn(process.execPath, [CLI, 'webhook', 'listen', ...args], { env: { PATH: process.env.PATH ?? '', ...env } });
  const lines: Array<Record<string, unknown>> = [];
  let buffered = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => void (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = JSON.parse(buffered.slice(0, newline)) as Record<string, unknown>;
        buffered = buffered.slice(newline + 1);
        if (typeof line.listening === 'string') {
          resolve({
            url: line.listening,
            lines,
            child,
            stop: async () => {
              child.kill('SIGTERM');
              return exited;
            },
          });
        } else lines.push(line);
      }
    });
    void exited.then((code) => reject(new Error(`webhook listen exited ${code}: ${stderr}`)));
  });
}

describe('the roomcast CLI against a gateway', function () {
  this.timeout(60_000);
  let gw: TestGateway;
  let env: Record<string, string>;
  const sockets: TestSocket[] = [];
  const open = async (token: string): Promise<TestSocket> => {
    const socket = await connect(gw.url, token);
    sockets.push(socket);
    return socket;
  };

  before(async () => {
    gw = await startGateway();
    env = { ROOMCAST_URL: gw.url, ROOMCAST_API_KEY: gw.apiKey, JWT_SECRET: gw.secret };
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });
  after(() => gw.close());

  it('token: mints a token that connects and joins the rooms it names, and only those', async () => {
    const run = await roomcast(['token', '--sub', 'alice', '--rooms', 'project:1,org:7:*', '--subscribe', 'org:7:news', '--ttl', '600'], env);
    expect(run.code, run.stderr).to.equal(0);
    const claims = decodeJwt(run.stdout.trim());
    expect(claims).to.deep.include({ sub: 'alice', rooms: ['project:1', 'org:7:*'], subscribe: ['org:7:news'] });
    expect((claims.exp as number) - (claims.iat as number)).to.equal(600);
    const socket = await open(run.stdout.trim());
    assertOk(await request(socket, 'room:join', { room: 'project:1' }));
    assertOk(await request(socket, 'room:join', { room: 'org:7:general' }));
    const refused = await request(socket, 'room:join', { room: 'project:2' });
    expect(refused.ok ? null : refused.error.code).to.equal('FORBIDDEN_ROOM');
    // Signed with another secret (--secret wins over JWT_SECRET): the gateway refuses it.
    const forged = await roomcast(['token', '--sub', 'mallory', '--secret', 'another-secret-that-is-long-enough-000'], env);
    expect(forged.code).to.equal(0);
    expect((await connectRefused(gw.url, forged.stdout.trim())).data?.code).to.equal('UNAUTHENTICATED');
  });

  it('publish: reaches the room\'s member and prints the stored offset; --rooms prints one result per room', async () => {
    const token = (await roomcast(['token', '--sub', 'bob', '--rooms', 'news:*'], env)).stdout.trim();
    const socket = await open(token);
    assertOk(await request(socket, 'room:join', { room: 'news:1' }));
    const received = collectMessages(socket);
    const run = await roomcast(['publish', '--room', 'news:1', '--event', 'headline', '--data', '{"title":"hi"}'], env);
    expect(run.code, run.stderr).to.equal(0);
    const printed = JSON.parse(run.stdout) as { results: Array<{ room: string; offset: number; epoch: string }>; idempotencyKey: string };
    expect(printed.results).to.have.length(1);
    expect(printed.results[0]).to.include({ room: 'news:1', offset: 1 });
    await waitFor(() => received.length === 1, 5000, 'the CLI publication');
    expect(received[0]).to.deep.include({ room: 'news:1', event: 'headline', data: { title: 'hi' }, offset: 1 });

    const several = await roomcast(['publish', '--rooms', 'news:1,news:2', '--event', 'e', '--data', '1', '--url', gw.url, '--api-key', gw.apiKey]);
    expect(several.code, several.stderr).to.equal(0);
    expect((JSON.parse(several.stdout) as { results: Array<{ room: string; offset: number }> }).results.map((result) => [result.room, result.offset])).to.deep.equal([
      ['news:1', 2],
      ['news:2', 1],
    ]);
  });

  it('exits 1 with the code when the gateway refuses, 2 on a wrong command line, 0 for --help', async () => {
    const undeclared = await roomcast(['publish', '--room', 'r', '--event', 'e', '--namespace', '/nowhere'], env);
    expect(undeclared.code).to.equal(1);
    expect(undeclared.stderr).to.match(/INVALID_PAYLOAD/);
    const wrongKey = await roomcast(['publish', '--room', 'r', '--event', 'e'], { ...env, ROOMCAST_API_KEY: 'not-a-key' });
    expect(wrongKey.code).to.equal(1);
    expect(wrongKey.stderr).to.match(/PUBLISH_FORBIDDEN: the API key is not valid/);

    const usage: string[][] = [
      ['publish', '--room', 'r'],
      ['publish', '--room', 'r', '--rooms', 'a', '--event', 'e'],
      ['publish', '--room', 'r', '--event', 'e', '--data', '{not json'],
      ['publish', '--room', 'r', '--event', 'e', '--bogus'],
      ['history'],
      ['history', '--room', 'r', '--since', 'no-offset'],
      ['rooms', '--limit', '0'],
      ['token'],
      ['token', '--sub', 'a', '--ttl', 'soon'],
      ['webhook', 'serve'],
      ['webhook'],
      ['nonsense'],
      [],
    ];
    for (const args of usage) {
      const run = await roomcast(args, env);
      expect(run.code, args.join(' ')).to.equal(2);
      expect(run.stderr, args.join(' ')).to.match(/Usage: roomcast/);
    }
    const noGateway = await roomcast(['publish', '--room', 'r', '--event', 'e'], { JWT_SECRET: gw.secret });
    expect(noGateway.code).to.equal(2);
    expect(noGateway.stderr).to.match(/ROOMCAST_URL/);
    for (const command of [['token'], ['publish'], ['history'], ['rooms'], ['webhook', 'listen'], []]) {
      const run = await roomcast([...command, '--help']);
      expect(run.code, command.join(' ')).to.equal(0);
      expect(run.stdout).to.match(/Usage: roomcast/);
    }
  });

  it('publish: exits 1 when one of --rooms was refused, and prints the key to retry with when nothing answered', async () => {
    // A stand-in for the gateway: answers the first request with a per-room refusal, holds the next ones.
    const held: ServerResponse[] = [];
    let requests = 0;
    const server = createServer((req, res) => {
      requests += 1;
      req.resume();
      if (requests > 1) {
        held.push(res);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true, results: [{ room: 'a', offset: 1, epoch: 'e' }, { room: 'b', error: { code: 'FORBIDDEN_ROOM', message: 'no', retryable: false } }] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const partly = await roomcast(['publish', '--rooms', 'a,b', '--event', 'e', '--url', url, '--api-key', 'k']);
      expect(partly.code).to.equal(1);
      expect((JSON.parse(partly.stdout) as { results: unknown[] }).results).to.have.length(2);
      const lost = await roomcast(['publish', '--room', 'a', '--event', 'e', '--url', url, '--api-key', 'k', '--timeout-ms', '200', '--retries', '1', '--idempotency-key', 'key-42']);
      expect(lost.code).to.equal(1);
      expect(lost.stderr).to.match(/UNAVAILABLE: .*outcome unknown: publish again with --idempotency-key key-42/);
      expect(requests).to.equal(3);
    } finally {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('history: prints what the room stored, after --since, at most --limit (the REST history route)', async () => {
    for (const n of [1, 2, 3]) expect((await roomcast(['publish', '--room', 'log:1', '--event', 'line', '--data', String(n)], env)).code).to.equal(0);
    const all = await roomcast(['history', '--room', 'log:1'], env);
    expect(all.code, all.stderr).to.equal(0);
    const page = JSON.parse(all.stdout) as { epoch: string; offset: number; recovered: boolean; messages: Array<{ offset: number; data: unknown }> };
    expect(page).to.include({ offset: 3, recovered: true });
    expect(page.messages.map((message) => [message.offset, message.data])).to.deep.equal([
      [1, 1],
      [2, 2],
      [3, 3],
    ]);
    // With "=": epochs are random base64url and may start with "-", which a separate argument would make a flag.
    const after = await roomcast(['history', '--room', 'log:1', `--since=${page.epoch}:1`, '--limit', '1'], env);
    expect(after.code, after.stderr).to.equal(0);
    expect((JSON.parse(after.stdout) as typeof page).messages.map((message) => message.offset)).to.deep.equal([2]);
  });

  it('rooms: prints each occupied room with its members, filtered by --prefix, every page (the REST rooms route)', async () => {
    const token = (await roomcast(['token', '--sub', 'carol', '--rooms', 'lobby:*,other:*'], env)).stdout.trim();
    const [first, second] = [await open(token), await open(token)];
    for (const room of ['lobby:1', 'lobby:2', 'lobby:3', 'other:1']) assertOk(await request(first, 'room:join', { room }));
    assertOk(await request(second, 'room:join', { room: 'lobby:1' }));
    const run = await roomcast(['rooms', '--prefix', 'lobby:'], env);
    expect(run.code, run.stderr).to.equal(0);
    const rooms = run.stdout.trim().split('\n').map((line) => JSON.parse(line) as { room: string; members: number });
    expect(rooms.sort((a, b) => a.room.localeCompare(b.room))).to.deep.equal([
      { room: 'lobby:1', members: 2 },
      { room: 'lobby:2', members: 1 },
      { room: 'lobby:3', members: 1 },
    ]);
    const capped = await roomcast(['rooms', '--prefix', 'lobby:', '--limit', '2'], env);
    expect(capped.code, capped.stderr).to.equal(0);
    expect(capped.stdout.trim().split('\n')).to.have.length(2);
  });

  it('webhook listen: answers 200 and prints a validly signed delivery, 401 and the reason otherwise', async () => {
    const listener = await listen([], { WEBHOOK_SECRET });
    try {
      const good: WebhookDelivery = { id: 'dlv-1', createdAt: Date.now(), events: [{ id: 'ev-1', type: 'room.vacated', ts: Date.now(), namespace: '/', room: 'chat:9' }] };
      const body = JSON.stringify(good);
      const ok = await fetch(listener.url, { method: 'POST', headers: { [SIGNATURE_HEADER]: await signBody(WEBHOOK_SECRET, body) }, body });
      expect(ok.status).to.equal(200);
      const tampered = await fetch(listener.url, { method: 'POST', headers: { [SIGNATURE_HEADER]: await signBody(WEBHOOK_SECRET, body) }, body: body.replace('chat:9', 'chat:0') });
      expect(tampered.status).to.equal(401);
      const unsigned = await fetch(listener.url, { method: 'POST', body });
      expect(unsigned.status).to.equal(401);
      await waitFor(() => listener.lines.length === 3, 5000, 'three printed verdicts');
      expect(listener.lines[0]).to.deep.include({ verdict: 'valid', status: 200, id: 'dlv-1', delivery: good });
      expect(listener.lines[1]).to.deep.include({ verdict: 'invalid', status: 401, reason: 'mismatch' });
      expect(listener.lines[2]).to.deep.include({ verdict: 'invalid', status: 401, reason: 'missing' });
    } finally {
      expect(await listener.stop()).to.equal(0);
    }
  });

  it('webhook listen: prints the deliveries of a gateway whose WEBHOOK_URL points at it, verified (needs the webhooks of issue 14)', async () => {
    const listener = await listen(['--secret', WEBHOOK_SECRET], {});
    const hooked = await startGateway({ WEBHOOK_URL: listener.url, WEBHOOK_SECRET });
    try {
      const token = (await roomcast(['token', '--sub', 'dave', '--rooms', 'hooked:*'], env)).stdout.trim();
      const socket = await connect(hooked.url, token);
      sockets.push(socket);
      assertOk(await request(socket, 'room:join', { room: 'hooked:1' }));
      const types = (): string[] =>
        listener.lines.flatMap((line) => ((line.delivery as WebhookDelivery | undefined)?.events ?? []).filter((event) => event.room === 'hooked:1').map((event) => event.type));
      await waitFor(() => types().includes('member.joined'), 15_000, 'room.occupied and member.joined delivered to the listener');
      expect(listener.lines.every((line) => line.verdict === 'valid')).to.equal(true);
      expect(types().indexOf('room.occupied')).to.be.within(0, types().indexOf('member.joined'));
    } finally {
      await hooked.close();
      await listener.stop();
    }
  });
});
