/**
 * bench/perf-summary.ts places each perf sample with an owner; a wrong rule would move
 * time between Roomcast and the libraries in the report. Lines are as `perf script` prints them.
 */
import { expect } from 'chai';
import { parsePerfFrame, type PerfSample } from '../../bench/lib/perf-record.js';
import { ownerOf, packageOf } from '../../bench/perf-summary.js';

const sample = (...lines: string[]): PerfSample => ({ frames: lines.map((line) => parsePerfFrame(line)).filter((f) => f !== null) });

describe('perf samples by owner (bench/perf-summary.ts)', () => {
  it('reads frame lines (JIT, native, kernel) and skips sample headers', () => {
    expect(parsePerfFrame('node 26637 31349.242694:    1001001 cpu-clock:ppp: ')).to.equal(null);
    expect(parsePerfFrame('\t    7fc5b80a5653 JS:^runChecks file:///w/node_modules/zod/v4/core/schemas.js:34:27+0x153 (/tmp/perf-26637.map)')).to.deep.equal({
      symbol: 'JS:^runChecks file:///w/node_modules/zod/v4/core/schemas.js:34:27',
      kernel: false,
    });
    expect(parsePerfFrame('\t         150c7a2 Builtins_LoadIC+0xae2 (/usr/bin/node)')).to.deep.equal({ symbol: 'Builtins_LoadIC', kernel: false });
    expect(parsePerfFrame('\tffffffffa1b2c3d4 tcp_sendmsg_locked+0x10 ([kernel.kallsyms])')).to.deep.equal({ symbol: 'tcp_sendmsg_locked', kernel: true });
  });

  it('names the package of a JavaScript frame: node_modules (scoped too), Roomcast, Node core, eval', () => {
    expect(packageOf('JS:*send /w/node_modules/ws/lib/sender.js:354:7')).to.equal('ws');
    expect(packageOf('JS:*x /w/node_modules/@redis/client/dist/lib/client/index.js:1:1')).to.equal('@redis/client');
    expect(packageOf('JS:^publish file:///w/dist/server/core/publisher.js:65:18')).to.equal('roomcast server/');
    expect(packageOf('JS:*onwrite node:internal/streams/writable:615:17')).to.equal('node core');
    expect(packageOf('JS:^ :3:17')).to.equal('other JavaScript (eval)');
  });

  it('gives the kernel, GC and compiler their own owners, and a builtin to the JavaScript that called it', () => {
    const js = '\t    7fc5b80a5653 JS:*sendPacket /w/node_modules/engine.io/build/socket.js:386:15+0x10 (/tmp/perf-1.map)';
    expect(ownerOf(sample('\tffffffffa1 __tcp_transmit_skb+0x1 ([kernel.kallsyms])', '\t  150 __GI___writev+0x1 (/usr/lib/libc.so.6)', js))).to.match(/^kernel/);
    expect(ownerOf(sample('\t  150 v8::internal::Scavenger::ScavengePage+0x1 (/usr/bin/node)', js))).to.equal('V8 garbage collection');
    expect(ownerOf(sample('\t  150 v8::internal::compiler::GraphReducer::ReduceTop+0x1 (/usr/bin/node)'))).to.equal('V8 compiler');
    expect(ownerOf(sample('\t  150 Builtins_KeyedLoadIC_Megamorphic+0x1 (/usr/bin/node)', js))).to.equal('JS: engine.io');
    expect(ownerOf(sample('\t  150 uv__io_poll+0x1 (/usr/bin/node)', '\t  151 uv_run+0x1 (/usr/bin/node)'))).to.match(/^native, no JavaScript/);
  });
});
