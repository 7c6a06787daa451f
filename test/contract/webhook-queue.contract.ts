/**
 * The WebhookQueue (server/core/webhook-queue.ts) as the dispatcher uses it.
 * Run on memory (unit), one Redis and a Redis Cluster (integration). What
 * every queue must do: keep the order events were queued in, hand out again
 * what was read and not acknowledged, forget what was acknowledged. What a
 * shared queue (Redis) must also do: one delivering node at a time, and a node
 * that takes over from one that stopped gets that node's unacknowledged
 * events first, then the rest, nothing lost, nothing reordered.
 */
import { expect } from 'chai';
import type { WebhookEvent } from '../../shared/index.js';
import type { WebhookQueue } from '../../server/core/webhook-queue.js';

export interface WebhookQueueFactory {
  /** A queue on a fresh, empty store; `nodeId` names the node using it. With `shared`, queues made until the next reset share one store. */
  create(nodeId: string, leaseMs: number): Promise<WebhookQueue>;
  /** Empties the store (before each test). */
  reset(): Promise<void>;
  /** Queues of several nodes share events and the lease (Redis); memory: one node alone. */
  shared: boolean;
}

let sequence = 0;
const event = (room: string, type: WebhookEvent['type'] = 'room.occupied'): WebhookEvent =>
  ({ id: `e${(sequence += 1)}`, ts: Date.now(), namespace: '/', room, type }) as WebhookEvent;
const ids = (entries: Array<{ event: WebhookEvent }>): string[] => entries.map((entry) => entry.event.id);

export function webhookQueueContract(name: string, factory: WebhookQueueFactory): void {
  describe(`WebhookQueue contract: ${name}`, function () {
    this.timeout(20_000);
    beforeEach(() => factory.reset());

    it('hands events out in the order they were queued, in batches of at most max, and forgets them once acknowledged', async () => {
      const queue = await factory.create('n1', 5_000);
      expect(await queue.acquire()).to.equal(true);
      const first = [event('a'), event('b'), event('a', 'member.joined')];
      const second = [event('c'), event('a', 'member.left')];
      await queue.enqueue(first);
      await queue.enqueue(second);
      expect(await queue.depth()).to.equal(5);
      const batch = await queue.read(3);
      expect(ids(batch)).to.deep.equal(first.map((e) => e.id));
      expect(batch[2]?.event).to.deep.equal(first[2]);
      await queue.ack(batch.map((entry) => entry.entryId));
      expect(await queue.depth()).to.equal(2);
      const rest = await queue.read(100);
      expect(ids(rest)).to.deep.equal(second.map((e) => e.id));
      await queue.ack(rest.map((entry) => entry.entryId));
      expect(await queue.read(100)).to.deep.equal([]);
      expect(await queue.depth()).to.equal(0);
    });

    it('hands out again, first, what was read and not acknowledged (a delivery in retry), then newer events', async () => {
      const queue = await factory.create('n1', 5_000);
      await queue.acquire();
      const older = [event('a'), event('b')];
      await queue.enqueue(older);
      const read = await queue.read(10);
      expect(ids(read)).to.deep.equal(older.map((e) => e.id));
      const newer = event('c');
      await queue.enqueue([newer]);
      const again = await queue.read(10);
      expect(ids(again)).to.deep.equal([...older, newer].map((e) => e.id));
      // The same entries: acknowledging the first read's ids removes them.
      await queue.ack(read.map((entry) => entry.entryId));
      expect(ids(await queue.read(10))).to.deep.equal([newer.id]);
    });

    it('an empty batch or an empty ack changes nothing', async () => {
      const queue = await factory.create('n1', 5_000);
      await queue.acquire();
      await queue.enqueue([]);
      await queue.ack([]);
      expect(await queue.depth()).to.equal(0);
      expect(await queue.read(10)).to.deep.equal([]);
    });

    if (!factory.shared) return;

    it('one delivering node at a time: another node gets the lease once the holder releases it', async () => {
      const a = await factory.create('n1', 5_000);
      const b = await factory.create('n2', 5_000);
      expect(await a.acquire()).to.equal(true);
      expect(await b.acquire()).to.equal(false);
      // Renewing is taking it again.
      expect(await a.acquire()).to.equal(true);
      await b.release();
      expect(await b.acquire()).to.equal(false);
      await a.release();
      expect(await b.acquire()).to.equal(true);
      expect(await a.acquire()).to.equal(false);
    });

    it('a holder that stops: its lease expires, the next holder gets its unacknowledged events first, in order, then the rest', async () => {
      const leaseMs = 1_000;
      const a = await factory.create('n1', leaseMs);
      const b = await factory.create('n2', leaseMs);
      const producer = await factory.create('n3', leaseMs);
      const queued = Array.from({ length: 7 }, (_, index) => event(`r${index % 2}`));
      await producer.enqueue(queued.slice(0, 5));
      expect(await a.acquire()).to.equal(true);
      const delivered = await a.read(2);
      await a.ack(delivered.map((entry) => entry.entryId));
      // n1 reads the next batch and dies before its ack; more events come meanwhile.
      expect(ids(await a.read(2))).to.deep.equal(queued.slice(2, 4).map((e) => e.id));
      await producer.enqueue(queued.slice(5));
      expect(await b.acquire()).to.equal(false);
      const deadline = Date.now() + leaseMs * 5;
      while (!(await b.acquire())) {
        if (Date.now() > deadline) throw new Error('the lease of a stopped holder never expired');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const taken = await b.read(100);
      expect(ids(taken)).to.deep.equal(queued.slice(2).map((e) => e.id));
      await b.ack(taken.map((entry) => entry.entryId));
      expect(await b.depth()).to.equal(0);
      expect(await b.read(100)).to.deep.equal([]);
    });

    it('more unacknowledged events than a batch: they all come back, oldest first, before any new one', async () => {
      const a = await factory.create('n1', 5_000);
      const b = await factory.create('n2', 5_000);
      const queued = Array.from({ length: 6 }, (_, index) => event(`r${index}`));
      await a.enqueue(queued.slice(0, 4));
      await a.acquire();
      expect(await a.read(4)).to.have.length(4);
      await a.release();
      await a.enqueue(queued.slice(4));
      await b.acquire();
      const first = await b.read(3);
      expect(ids(first)).to.deep.equal(queued.slice(0, 3).map((e) => e.id));
      await b.ack(first.map((entry) => entry.entryId));
      const second = await b.read(3);
      expect(ids(second)).to.deep.equal(queued.slice(3, 6).map((e) => e.id));
    });
  });
}
