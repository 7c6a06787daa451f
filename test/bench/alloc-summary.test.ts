/**
 * bench/alloc-summary.ts sums a sampling heap profile's bytes by the package that allocated them;
 * a wrong rule would move a GC share between Roomcast and the libraries in the report.
 */
import { expect } from 'chai';
import { allocationMarkdown, summarizeAllocations, type HeapProfileNode } from '../../bench/alloc-summary.js';

const node = (functionName: string, url: string, selfSize: number, children: HeapProfileNode[] = []): HeapProfileNode => ({
  callFrame: { functionName, url, lineNumber: 9 },
  selfSize,
  children,
});

describe('allocations by package (bench/alloc-summary.ts)', () => {
  // (root) -> Roomcast's route -> node-redis's encoder -> Node's stream; the bytes belong to the frame that made them.
  const profile = {
    head: node('(root)', '', 0, [
      node('publish', 'file:///w/dist/server/http/publish-route.js', 4000, [
        node('encodeCommand', 'file:///w/node_modules/@redis/client/dist/lib/client/RESP2/encoder.js', 3000, [node('writeOrBuffer', 'node:internal/streams/writable', 2000)]),
      ]),
      node('sendPacket', 'file:///w/node_modules/engine.io/build/socket.js', 1000),
    ]),
  };

  it('gives each allocation to the function that made it, summed by package across profiles', () => {
    const summary = summarizeAllocations([profile, profile]);
    expect(summary.totalBytes).to.equal(20_000);
    expect(summary.byPackage).to.deep.equal([
      { name: 'roomcast server/', bytes: 8000, share: 40 },
      { name: '@redis/client', bytes: 6000, share: 30 },
      { name: 'node core', bytes: 4000, share: 20 },
      { name: 'engine.io', bytes: 2000, share: 10 },
    ]);
    expect(summary.topFunctions[0]).to.deep.equal({ name: 'publish', where: 'server/http/publish-route.js:10', bytes: 8000, share: 40 });
  });

  it('reports bytes per unit of work', () => {
    const text = allocationMarkdown(summarizeAllocations([profile]), { count: 10, unit: 'publication' });
    expect(text).to.include('1000 bytes per publication, 10 publications');
    expect(text).to.match(/\| roomcast server\/ \| 0 \| 40% \| 400 \|/);
  });
});
