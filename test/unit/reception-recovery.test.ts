/**
 * ReceptionRecovery on a real (memory) history store: after the node was deaf,
 * each served room's publications after the last position seen are broadcast
 * to the local members, once, in order, across pages and a new epoch.
 */
import { expect } from 'chai';
import type { Message } from '../../shared/index.js';
import { MemoryHistoryStore } from '../../server/backends/memory/history.js';
import { RoomWatermarks } from '../../server/core/room-watermarks.js';
import { createLogger } from '../../server/ops/logger.js';
import { loadConfig } from '../../server/config/load.js';
import { ReceptionRecovery, type ServedRoom } from '../../server/core/reception-recovery.js';

const logger = createLogger(loadConfig({ LOG_LEVEL: 'silent' }));
const publication = (n: number) => ({ event: 'n', data: n, ts: Date.now() });

describe('ReceptionRecovery', () => {
  let history: MemoryHistoryStore;
  let watermarks: RoomWatermarks;
  let served: ServedRoom[];
  let emitted: Array<[string, Message]>;
  let recovery: ReceptionRecovery;
  beforeEach(() => {
    history = new MemoryHistoryStore({ size: 1000, ttlSeconds: 3600 });
    watermarks = new RoomWatermarks();
    served = [];
    emitted = [];
    recovery = new ReceptionRecovery({ history, watermarks, servedRooms: () => served, emitLocal: (namespace, message) => emitted.push([namespace, message]), logger, concurrency: 2 });
  });
  afterEach(() => history.close());

  it('broadcasts locally what each served room got after the position last seen, past several pages, and moves the watermark', async () => {
    for (let n = 1; n <= 3; n += 1) await history.append('/', 'a', publication(n));
    const { epoch } = await history.position('/', 'a');
    watermarks.note('/', 'a', { epoch, offset: 3 });
    for (let n = 4; n <= 250; n += 1) await history.append('/', 'a', publication(n));
    served = [{ namespace: '/', room: 'a' }];
    await recovery.recoverAll();
    expect(emitted.map(([, message]) => message.offset)).to.deep.equal(Array.from({ length: 247 }, (_, index) => index + 4));
    expect(watermarks.get('/', 'a')).to.deep.equal({ epoch, offset: 250 });
    emitted = [];
    await recovery.recoverAll();
    expect(emitted, 'nothing twice').to.deep.equal([]);
  });

  it('a room whose epoch changed meanwhile gets the new epoch from its start', async () => {
    watermarks.note('/live', 'b', { epoch: 'gone', offset: 7 });
    await history.append('/live', 'b', publication(1));
    await history.append('/live', 'b', publication(2));
    served = [{ namespace: '/live', room: 'b' }];
    await recovery.recoverAll();
    expect(emitted.map(([namespace, message]) => [namespace, message.offset])).to.deep.equal([
      ['/live', 1],
      ['/live', 2],
    ]);
  });

  it('skips rooms it has no position for, and forgets rooms no longer served', async () => {
    await history.append('/', 'unknown', publication(1));
    watermarks.note('/', 'left', { epoch: 'e', offset: 1 });
    served = [{ namespace: '/', room: 'unknown' }];
    await recovery.recoverAll();
    expect(emitted).to.deep.equal([]);
    expect(watermarks.get('/', 'left')).to.equal(undefined);
  });

  it('keeps the newest position of an epoch, takes another epoch, and stays within its bound', () => {
    const bounded = new RoomWatermarks(2);
    bounded.note('/', 'x', { epoch: 'e1', offset: 5 });
    bounded.note('/', 'x', { epoch: 'e1', offset: 3 });
    expect(bounded.get('/', 'x')).to.deep.equal({ epoch: 'e1', offset: 5 });
    bounded.note('/', 'x', { epoch: 'e2', offset: 1 });
    expect(bounded.get('/', 'x')).to.deep.equal({ epoch: 'e2', offset: 1 });
    bounded.note('/', 'y', { epoch: 'e', offset: 1 });
    bounded.note('/', 'z', { epoch: 'e', offset: 1 });
    expect(bounded.size).to.equal(2);
    expect(bounded.get('/', 'x'), 'the earliest tracked goes first').to.equal(undefined);
  });
});
