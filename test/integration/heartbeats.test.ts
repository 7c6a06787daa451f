/**
 * Heartbeats as clients see them (server/transports/socketio/aligned-pings.ts): the gateway pings
 * every PING_INTERVAL_MS after the last pong, on the clock's 100 ms ticks whatever moment each
 * connection opened (so one loop turn sends all the pings due), and still closes a client that
 * stops answering within PING_INTERVAL_MS + PING_TIMEOUT_MS (plus at most a tick).
 */
import { expect } from 'chai';
import { RawEngineClient, type ReceivedFrame } from '../support/raw-engine-client.js';
import { startGateway, type TestGateway } from '../support/gateway.js';

const INTERVAL_MS = 1000;
const TIMEOUT_MS = 1000;
const TICK_MS = 100;
/** How late after its tick a ping may arrive here: the server's timer and the test's loop on a busy machine. */
const ARRIVAL_SLACK_MS = 50;
/**
 * How early: Node counts a timer from the event loop's cached clock, which lags Date.now() by the time
 * the loop turn has run, so a ping aimed at a tick can fire a few milliseconds before it (seen: 1 ms).
 */
const EARLY_SLACK_MS = 10;
/** Where `at` falls around its nearest tick: -EARLY_SLACK_MS .. TICK_MS - EARLY_SLACK_MS. */
const phase = (at: number): number => ((at + EARLY_SLACK_MS) % TICK_MS) - EARLY_SLACK_MS;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const pings = (client: RawEngineClient): ReceivedFrame[] => client.frames.filter((frame) => frame.kind === 'text' && frame.text === '2');

describe('heartbeats: pings on shared ticks', function () {
  this.timeout(20_000);
  let gw: TestGateway;
  const clients: RawEngineClient[] = [];

  before(async () => {
    gw = await startGateway({ PING_INTERVAL_MS: String(INTERVAL_MS), PING_TIMEOUT_MS: String(TIMEOUT_MS) });
  });
  afterEach(() => {
    for (const client of clients.splice(0)) client.terminate();
  });
  after(() => gw?.close());

  it('pings each connection every PING_INTERVAL_MS after its last pong, on a 100 ms tick of the clock, however its open was timed', async () => {
    // Opened at moments spread over a tick: without alignment their pings would fall on as many different milliseconds.
    for (const offset of [0, 23, 41, 67, 89]) {
      await sleep(offset === 0 ? 0 : 20);
      const client = await RawEngineClient.connect(gw.url);
      expect(client.open.pingInterval).to.equal(INTERVAL_MS);
      clients.push(client);
    }
    await sleep(3 * INTERVAL_MS + 2 * TICK_MS + 200);
    for (const client of clients) {
      const seen = pings(client);
      expect(seen.length, 'pings in 3.4 s').to.be.within(2, 3);
      for (const frame of seen) expect(phase(frame.at), `ping at ${frame.at}`).to.be.within(-EARLY_SLACK_MS, ARRIVAL_SLACK_MS);
      for (let i = 1; i < seen.length; i++) {
        const gap = (seen[i] as ReceivedFrame).at - (seen[i - 1] as ReceivedFrame).at;
        // The pong goes out at once, so the next ping comes a whole interval later, and at most a tick more.
        expect(gap, 'between two pings').to.be.within(INTERVAL_MS - ARRIVAL_SLACK_MS, INTERVAL_MS + TICK_MS + ARRIVAL_SLACK_MS);
      }
      expect(client.isOpen).to.equal(true);
    }
  });

  it('closes a connection that stops answering within PING_INTERVAL_MS + PING_TIMEOUT_MS and a tick; one that answers stays', async () => {
    const silent = await RawEngineClient.connect(gw.url, { autoPong: false });
    const answering = await RawEngineClient.connect(gw.url);
    clients.push(silent, answering);
    const opened = Date.now();
    const closed = await Promise.race([silent.whenClosed, sleep(INTERVAL_MS + TIMEOUT_MS + 3000).then(() => null)]);
    expect(closed, 'the silent client was closed').to.not.equal(null);
    expect(closed?.byClient).to.equal(false);
    expect(Date.now() - opened).to.be.within(INTERVAL_MS + TIMEOUT_MS - ARRIVAL_SLACK_MS, INTERVAL_MS + TIMEOUT_MS + TICK_MS + 1000);
    expect(pings(silent)).to.have.length(1);
    await sleep(Math.max(0, opened + 2 * INTERVAL_MS + TICK_MS + 300 - Date.now()));
    expect(answering.isOpen).to.equal(true);
    expect(pings(answering).length).to.be.at.least(2);
  });
});
