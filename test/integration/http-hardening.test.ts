/**
 * HTTP attacks (issue 12, item 11): a body nested 5,000 deep, a body whose
 * Content-Encoding is garbage, headers sent one byte at a time, a body
 * trickled. Each is the client's fault and answered so (4xx, or the connection
 * cut after HTTP_HEADERS_TIMEOUT_MS / HTTP_REQUEST_TIMEOUT_MS), never a 500 or
 * a stack in the log, and the node keeps serving everyone else.
 */
import { request as httpRequest } from 'node:http';
import { connect as tcpConnect, type Socket } from 'node:net';
import { expect } from 'chai';
import { captureLogs, startGateway, type LogCapture, type TestGateway } from '../support/gateway.js';
import { openFileLimit } from '../../server/ops/http-server.js';
import { TEST_API_KEY } from '../../tools/processes/tokens.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Writes `head`, then one byte of `drip` every `everyMs`, until the server closes; resolves with what it answered and when. */
function trickle(port: number, head: string, drip: string, everyMs: number, localAddress = '127.0.0.8'): Promise<{ closedAfterMs: number; answer: string }> {
  return new Promise((resolve) => {
    const socket: Socket = tcpConnect({ host: '127.0.0.1', port, localAddress });
    const startedAt = Date.now();
    let answer = '';
    let index = 0;
    const timer = setInterval(() => {
      if (index < drip.length && !socket.destroyed) socket.write(drip[index++] as string);
    }, everyMs);
    socket.on('connect', () => socket.write(head));
    socket.on('data', (chunk) => (answer += chunk.toString('utf8')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ closedAfterMs: Date.now() - startedAt, answer });
    });
  });
}

describe('HTTP hardening', function () {
  this.timeout(30_000);
  let gw: TestGateway;
  let logs: LogCapture;
  before(async () => {
    logs = captureLogs();
    gw = await startGateway({ HTTP_HEADERS_TIMEOUT_MS: '1000', HTTP_REQUEST_TIMEOUT_MS: '1500', LOG_LEVEL: 'info' }, logs);
  });
  after(() => gw.close());

  const post = async (body: string, headers: Record<string, string> = {}): Promise<{ status: number; body: { error?: { code: string } } }> => {
    const response = await fetch(`${gw.url}/api/v1/publish`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json', ...headers },
      body,
    });
    return { status: response.status, body: (await response.json()) as { error?: { code: string } } };
  };
  const errorLines = (): string[] => logs.lines.filter((line) => /"level":(50|60)/.test(line));

  it('a body nested 5,000 deep is a 400 INVALID_PAYLOAD, not a 500 with a stack overflow in the log', async () => {
    for (const data of ['['.repeat(5000) + ']'.repeat(5000), '{"a":'.repeat(5000) + '1' + '}'.repeat(5000)]) {
      const answer = await post(`{"room":"h:deep","event":"e","data":${data}}`);
      expect(answer.status).to.equal(400);
      expect(answer.body.error?.code).to.equal('INVALID_PAYLOAD');
    }
    expect(errorLines()).to.deep.equal([]);
  });

  it('a body whose Content-Encoding does not decode (br, gzip) or is unknown is a 400 INVALID_PAYLOAD', async () => {
    for (const encoding of ['br', 'gzip', 'deflate', 'zstd']) {
      const answer = await post('this is not compressed', { 'content-encoding': encoding });
      expect(answer.status, encoding).to.equal(400);
      expect(answer.body.error?.code).to.equal('INVALID_PAYLOAD');
    }
    expect(errorLines()).to.deep.equal([]);
  });

  it('headers sent a byte at a time are cut after HTTP_HEADERS_TIMEOUT_MS, while others are served', async () => {
    const slow = trickle(gw.port, 'POST /api/v1/publish HTTP/1.1\r\nHost: x\r\n', 'X-Slow: ' + 'a'.repeat(200), 100);
    await sleep(300);
    expect((await fetch(`${gw.url}/healthz`)).status).to.equal(200);
    const { closedAfterMs, answer } = await slow;
    // Cut well before the drip would end (20 s): Node answers 408 and closes.
    expect(closedAfterMs).to.be.below(8000);
    expect(answer).to.match(/^HTTP\/1\.1 408/);
  });

  it('a body trickled slower than HTTP_REQUEST_TIMEOUT_MS allows is cut', async () => {
    const head = `POST /api/v1/publish HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TEST_API_KEY}\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n`;
    const { closedAfterMs } = await trickle(gw.port, head, `{"room":"h:slow","event":"e","data":"${'b'.repeat(360)}"}`, 100);
    expect(closedAfterMs).to.be.below(8000);
  });

  it('publish and batch answer the same through the lean route (Content-Length) and through Express (chunked)', async () => {
    /** POSTs `body` with a Content-Length (the lean route takes it) or chunked (Express takes it). */
    const send = (path: string, body: string, chunked: boolean, authorization = `Bearer ${TEST_API_KEY}`): Promise<{ status: number; text: string }> =>
      new Promise((resolve, reject) => {
        const headers: Record<string, string> = { authorization, 'content-type': 'application/json; charset=utf-8' };
        // Express's answers carry helmet's headers, the lean route's do not: each case went the way it was meant to.
        const wentThrough = (res: { headers: Record<string, unknown> }): boolean => res.headers['content-security-policy'] !== undefined;
        if (chunked) headers['transfer-encoding'] = 'chunked';
        else headers['content-length'] = String(Buffer.byteLength(body));
        const req = httpRequest(`${gw.url}${path}`, { method: 'POST', headers }, (res) => {
          if (wentThrough(res) !== chunked) reject(new Error(`${path} chunked: ${chunked}: went the other way`));
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        });
        req.on('error', reject);
        req.end(body);
      });
    const cases: Array<[string, (room: string) => string, string?]> = [
      ['/api/v1/publish', (room) => JSON.stringify({ room, event: 'e', data: { n: 1 } })],
      ['/api/v1/publish', (room) => `\ufeff${JSON.stringify({ room, event: 'e', data: 1 })}`],
      ['/api/v1/publish', () => ''],
      ['/api/v1/publish', () => '{"room":'],
      ['/api/v1/publish', (room) => JSON.stringify({ room, event: 'bad event', data: 1 })],
      ['/api/v1/publish', (room) => JSON.stringify({ namespace: '/nope', room, event: 'e', data: 1 })],
      ['/api/v1/publish', (room) => JSON.stringify({ room, event: 'e', data: 1 }), 'Bearer wrong-key-0123456789'],
      ['/api/v1/publish', (room) => JSON.stringify({ room, event: 'e', data: 1 }), 'Basic abc'],
      ['/api/v1/batch', (room) => JSON.stringify({ publications: [{ room, event: 'e', data: 1 }, { room, event: '', data: 2 }] })],
      ['/api/v1/batch', () => JSON.stringify({ publications: [] })],
    ];
    for (const [index, [path, body, authorization]] of cases.entries()) {
      const lean = await send(path, body(`eq:lean:${index}`), false, authorization);
      const express = await send(path, body(`eq:express:${index}`), true, authorization);
      expect(lean.status, `${path} case ${index}`).to.equal(express.status);
      // Each room has its own epoch; everything else is the same text.
      const same = (text: string): string => text.replaceAll('eq:lean:', 'eq:express:').replace(/"epoch":"[^"]*"/g, '"epoch":"-"');
      expect(same(lean.text), `${path} case ${index}`).to.equal(same(express.text));
    }
  });

  it('a request sent on a kept-alive connection just before its idle timeout is answered, even when the node is too busy to read it until after', async () => {
    const busy = await startGateway({ HTTP_KEEPALIVE_TIMEOUT_MS: '1000' });
    const socket: Socket = tcpConnect({ host: '127.0.0.1', port: busy.port });
    try {
      let answer = '';
      socket.on('data', (chunk: Buffer) => (answer += chunk.toString('utf8')));
      socket.on('error', () => undefined);
      const request = (room: string): string => {
        const body = JSON.stringify({ room, event: 'e', data: 1 });
        return `POST /api/v1/publish HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer ${TEST_API_KEY}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
      };
      const answered = (): number => answer.split('HTTP/1.1 200').length - 1;
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.write(request('h:ka1'));
      while (answered() < 1) await sleep(5);
      // Node closes an idle connection HTTP_KEEPALIVE_TIMEOUT_MS + 1 s after its last answer: the next request
      // goes out before that, and the node (this process) is busy until after it, so the close timer and the
      // request are due in the same event-loop turn.
      await sleep(1700);
      socket.write(request('h:ka2'));
      const busyUntil = Date.now() + 600;
      while (Date.now() < busyUntil) {
        // busy
      }
      for (let waited = 0; answered() < 2 && !socket.destroyed && waited < 2000; waited += 10) await sleep(10);
      expect(answered(), answer).to.equal(2);
    } finally {
      socket.destroy();
      await busy.close();
    }
  });

  it('keep-alive outlasts a publisher reuse interval, and the server never holds more sockets than the process may open', () => {
    const server = gw.gateway.httpServer;
    expect(server.keepAliveTimeout).to.equal(65_000);
    expect(server.headersTimeout).to.equal(1000);
    const limit = openFileLimit();
    if (limit !== null) expect(server.maxConnections).to.be.within(1, limit - 1);
  });
});
