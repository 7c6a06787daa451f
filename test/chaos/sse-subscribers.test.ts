/**
 * The chaos suite's SSE consumer against a canned stream (a plain HTTP server
 * speaking server/transports/sse/sse-stream.ts's format): what it records in the ledger for each
 * kind of event, and how it resumes. (Against real gateways it runs in the
 * chaos suite itself.)
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { Ledger } from './ledger.js';
import { SseSubscriber } from './sse-subscribers.js';

const ROOM = 'chaos:r01';
const message = (epoch: string, offset: number, key: string): string =>
  `id: ${epoch}:${offset}\nevent: chaos\ndata: ${JSON.stringify({ room: ROOM, event: 'chaos', data: { p: 0, s: offset, k: key }, offset, epoch, ts: 1 })}\n\n`;
const control = (event: string, epoch: string, offset: number, extra: object = {}): string =>
  `id: ${epoch}:${offset}\nevent: ${event}\ndata: ${JSON.stringify({ namespace: '/', room: ROOM, epoch, offset, ...extra })}\n\n`;

describe('chaos SSE consumer: what it records', function () {
  this.timeout(10_000);
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
    server = undefined;
  });

  it('position is the join, publications are deliveries, recovered:false are gaps (two ranges into another epoch), drain and end resume with Last-Event-ID', async () => {
    const requests: Array<{ lastEventId: string | undefined; query: string }> = [];
    server = createServer((req, res) => {
      requests.push({ lastEventId: req.headers['last-event-id'] as string | undefined, query: req.url ?? '' });
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const n = requests.length;
      if (n === 1) {
        res.write('retry: 10\n\n');
        res.write(control('position', 'e1', 3));
        res.write(message('e1', 4, 'k4'));
        res.write(message('e1', 5, 'k5'));
        // A publication whose event name is a control name: its data has `event`, so it is a publication.
        res.write(`id: e1:6\nevent: position\ndata: ${JSON.stringify({ room: ROOM, event: 'position', data: { k: 'k6' }, offset: 6, epoch: 'e1', ts: 1 })}\n\n`);
        res.end(`retry: 10\nevent: server:draining\ndata: {"reconnectInMs":10}\n\n`);
      } else if (n === 2) {
        res.write(control('recovered', 'e1', 9, { recovered: false }));
        res.write(message('e1', 10, 'k10'));
        res.end();
      } else if (n === 3) {
        res.write(control('recovered', 'e2', 2, { recovered: false }));
        res.write(message('e2', 3, 'k-e2-3'));
      }
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    let now = 0;
    const ledger = new Ledger();
    const stream = new SseSubscriber({ id: 's1', url: `http://127.0.0.1:${port}`, token: 'tok', room: ROOM, ledger, now: () => (now += 1), pinnedNode: 'node9' });
    await stream.start();
    const deadline = Date.now() + 5_000;
    while (!(stream.position(ROOM)?.epoch === 'e2' && stream.position(ROOM)?.offset === 3)) {
      if (Date.now() > deadline) throw new Error(`timed out: ${JSON.stringify(stream.timeline)}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await stream.close();

    expect(requests.map((request) => request.lastEventId)).to.deep.equal([undefined, 'e1:6', 'e1:10']);
    expect(requests[0]?.query).to.equal(`/sse?room=${encodeURIComponent(ROOM)}&token=tok`);
    const log = ledger.subscriptions.get(`s1|${ROOM}`);
    expect(log).to.include({ client: 's1', room: ROOM, kind: 'sse', node: 'node9' });
    expect(log?.join).to.include({ epoch: 'e1', offset: 3 });
    expect(log?.deliveries.map((delivery) => `${delivery.epoch}:${delivery.offset}:${delivery.key}`)).to.deep.equal(['e1:4:k4', 'e1:5:k5', 'e1:6:k6', 'e1:10:k10', 'e2:3:k-e2-3']);
    expect(log?.gaps.map(({ epoch, from, to, epochChange, sameEvent }) => ({ epoch, from, to, epochChange, sameEvent }))).to.deep.equal([
      { epoch: 'e1', from: 7, to: 9, epochChange: false, sameEvent: undefined },
      { epoch: 'e1', from: 11, to: null, epochChange: true, sameEvent: undefined },
      { epoch: 'e2', from: 1, to: 2, epochChange: true, sameEvent: true },
    ]);
    expect(log?.end).to.equal(undefined);
    expect(stream.episodes.map((episode) => episode.cause)).to.deep.equal(['draining', 'ended']);
    expect(log?.offline.every(([, to]) => to !== null)).to.equal(true);
  });
});
