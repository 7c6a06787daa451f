/**
 * The deadline of a Redis call (withDeadline / redisCall): an answer that arrived while the event loop
 * was blocked past the deadline is still the answer (timers run before sockets are read in a turn), and
 * a call that really does not answer is UNAVAILABLE once the deadline has passed.
 */
import { once } from 'node:events';
import { createServer, connect, type AddressInfo } from 'node:net';
import { expect } from 'chai';
import { CallTimeout, redisCall, timed, withDeadline, type ObserveRedis } from '../../server/backends/redis/redis-errors.js';
import { RoomcastError } from '../../server/errors.js';

/**
 * A reply over a real socket, resolved when its bytes are read: the way node-redis hears Redis. Once the
 * reply is written (in the kernel, ready to be read), the loop is blocked for `blockMs`: a saturated node.
 */
async function echoOverSocket(blockMs: number): Promise<{ ask: () => Promise<string>; close: () => void }> {
  const server = createServer((socket) =>
    socket.on('data', (chunk) => {
      socket.write(chunk);
      blockFor(blockMs);
    }),
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
  await once(client, 'connect');
  return {
    ask: () =>
      new Promise<string>((resolve) => {
        client.once('data', (chunk) => resolve(chunk.toString()));
        client.write('pong');
      }),
    close: () => {
      client.destroy();
      server.close();
    },
  };
}

function blockFor(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // A saturated node: nothing else runs.
  }
}

describe('Redis call deadlines', () => {
  it('takes an answer that arrived while the loop was blocked past the deadline', async () => {
    const echo = await echoOverSocket(200);
    try {
      expect(await withDeadline(echo.ask(), 50)).to.equal('pong');
      expect(await redisCall('an echo', () => echo.ask(), 50)).to.equal('pong');
    } finally {
      echo.close();
    }
  });

  it('gives up on a call that never answers: CallTimeout, and UNAVAILABLE through redisCall', async () => {
    const never = new Promise<string>(() => undefined);
    let error: unknown;
    try {
      await withDeadline(never, 20);
    } catch (caught) {
      error = caught;
    }
    expect(error).to.be.instanceOf(CallTimeout);
    error = undefined;
    try {
      await redisCall('a silent call', () => never, 20);
    } catch (caught) {
      error = caught;
    }
    expect(error).to.be.instanceOf(RoomcastError);
    expect((error as RoomcastError).code).to.equal('UNAVAILABLE');
    expect((error as Error).message).to.include('a silent call');
  });

  it('hands an answer that comes after the deadline to `late` (and nothing when the answer is in time or never comes)', async () => {
    let answer: (value: string) => void = () => undefined;
    const slow = new Promise<string>((resolve) => (answer = resolve));
    const lateAnswers: string[] = [];
    let error: unknown;
    try {
      await redisCall('a slow call', () => slow, 20, (value) => lateAnswers.push(value));
    } catch (caught) {
      error = caught;
    }
    expect((error as RoomcastError).code).to.equal('UNAVAILABLE');
    expect(lateAnswers).to.deep.equal([]);
    answer('done after all');
    await slow;
    await new Promise((resolve) => setImmediate(resolve));
    expect(lateAnswers).to.deep.equal(['done after all']);

    expect(await redisCall('a quick call', async () => 'quick', 20, (value) => lateAnswers.push(value))).to.equal('quick');
    await redisCall('a failing call', async () => Promise.reject(new Error('ERR')), 20, (value) => lateAnswers.push(value)).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(lateAnswers).to.deep.equal(['done after all']);
  });

  it('decides each of many concurrent calls by its own deadline, never before it', async () => {
    const sleep = (ms: number) => new Promise<string>((resolve) => setTimeout(() => resolve(`after ${ms}`), ms));
    const started = Date.now();
    const outcomes = await Promise.all(
      [
        { answerMs: 30, deadlineMs: 200 },
        { answerMs: 400, deadlineMs: 100 },
        { answerMs: 150, deadlineMs: 300 },
        { answerMs: 1000, deadlineMs: 250 },
      ].map(async ({ answerMs, deadlineMs }) => {
        try {
          return await withDeadline(sleep(answerMs), deadlineMs);
        } catch (error) {
          expect(error).to.be.instanceOf(CallTimeout);
          return `gave up at ${Date.now() - started}`;
        }
      }),
    );
    expect(outcomes[0]).to.equal('after 30');
    expect(outcomes[2]).to.equal('after 150');
    const gaveUpAt = (outcome: string | undefined): number => Number((outcome ?? '').replace('gave up at ', ''));
    expect(gaveUpAt(outcomes[1])).to.be.at.least(100).and.below(400);
    expect(gaveUpAt(outcomes[3])).to.be.at.least(250).and.below(1000);
  });

  it('times a call that fails, or throws before it starts, as a rejected answer', async () => {
    const observed: string[] = [];
    const observe: ObserveRedis = (command) => {
      observed.push(command);
    };
    const failing = timed(observe, 'append', () => Promise.reject(new Error('ERR no')));
    const throwing = timed(observe, 'read', () => {
      throw new Error('thrown');
    });
    expect(await failing.catch((error: Error) => error.message)).to.equal('ERR no');
    expect(await throwing.catch((error: Error) => error.message)).to.equal('thrown');
    expect(await timed(undefined, 'read', () => Promise.resolve('unobserved'))).to.equal('unobserved');
    expect(observed).to.have.members(['append', 'read']);
  });
});
