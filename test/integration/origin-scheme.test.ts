/**
 * The origin check compares schemes, not only hosts: with
 * CORS_ORIGINS=https://app.example.com, a page on http://app.example.com (which
 * anyone on its network path can rewrite) is refused, also when the gateway is
 * served from that very host; and the same-origin rule refuses an http page
 * whose request reached the edge over https. Raw handshake requests (polling
 * over HTTP, and a WebSocket upgrade), so that Host and Origin are exactly
 * what a browser behind a TLS-terminating proxy would send.
 */
import { request as httpRequest } from 'node:http';
import { expect } from 'chai';
import { WebSocket } from 'ws';
import { isOriginAllowed } from '../../server/transports/socketio/origin-check.js';
import { startGateway, type TestGateway } from '../support/gateway.js';

/** Status of an Engine.IO polling handshake with these headers. */
function pollingHandshake(gw: TestGateway, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: gw.port, path: '/socket.io/?EIO=4&transport=polling', headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

/** 101 when the WebSocket handshake is accepted, else the status it was refused with. */
function websocketHandshake(gw: TestGateway, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${gw.port}/socket.io/?EIO=4&transport=websocket`, { headers });
    socket.once('open', () => {
      socket.terminate();
      resolve(101);
    });
    socket.once('unexpected-response', (_req, res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
      socket.terminate();
    });
    socket.once('error', (error) => reject(error));
  });
}

describe('origin check: the scheme is part of the origin', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({ CORS_ORIGINS: 'https://app.example.com' });
  });
  after(() => gw.close());

  // Engine.IO refuses a polling handshake with 403 and a WebSocket upgrade with 400.
  for (const [transport, handshake, accepted, refused] of [
    ['polling', pollingHandshake, 200, 403],
    ['websocket', websocketHandshake, 101, 400],
  ] as const) {
    it(`CORS_ORIGINS=https://app.example.com refuses http://app.example.com over ${transport}, even from the gateway's own host`, async () => {
      // The gateway served as app.example.com behind a proxy: the Host matches the page's host.
      expect(await handshake(gw, { host: 'app.example.com', origin: 'http://app.example.com' })).to.equal(refused);
      expect(await handshake(gw, { host: 'gw.example.com', origin: 'http://app.example.com' })).to.equal(refused);
      expect(await handshake(gw, { host: 'app.example.com', origin: 'https://app.example.com' })).to.equal(accepted);
      expect(await handshake(gw, { host: 'gw.example.com', origin: 'https://APP.example.com:443' })).to.equal(accepted);
    });

    it(`same origin over ${transport}: an http page is refused when the request came over https (X-Forwarded-Proto)`, async () => {
      expect(await handshake(gw, { host: 'gw.example.com', origin: 'http://gw.example.com', 'x-forwarded-proto': 'https' })).to.equal(refused);
      expect(await handshake(gw, { host: 'gw.example.com', origin: 'https://gw.example.com', 'x-forwarded-proto': 'https' })).to.equal(accepted);
      // Plain http end to end (development): the same-origin page is still let in.
      expect(await handshake(gw, { host: 'gw.example.com', origin: 'http://gw.example.com' })).to.equal(accepted);
    });
  }

  it('isOriginAllowed: schemes, default ports and case, listed or same-origin', () => {
    const listed = ['https://app.example.com', 'http://localhost:5173'];
    expect(isOriginAllowed('https://app.example.com', 'gw:3000', listed)).to.equal(true);
    expect(isOriginAllowed('https://app.example.com:443', 'gw:3000', listed)).to.equal(true);
    expect(isOriginAllowed('http://app.example.com', 'gw:3000', listed)).to.equal(false);
    expect(isOriginAllowed('http://app.example.com', 'app.example.com', listed)).to.equal(false);
    expect(isOriginAllowed('https://app.example.com:8443', 'gw:3000', listed)).to.equal(false);
    // A development page next to a listed dev server on another port of the same host.
    expect(isOriginAllowed('http://localhost:3000', 'localhost:3000', listed)).to.equal(true);
    expect(isOriginAllowed('http://gw:3000', 'gw:3000', [], 'https')).to.equal(false);
    expect(isOriginAllowed('https://gw:3000', 'gw:3000', [], 'https')).to.equal(true);
    expect(isOriginAllowed('ftp://gw:3000', 'gw:3000', [])).to.equal(false);
  });
});
