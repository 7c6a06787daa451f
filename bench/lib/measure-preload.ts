/**
 * Preloaded into a server under test so the bench can measure its memory from
 * the inside, whatever the server is (Roomcast, bare ws, plain Socket.IO):
 *
 *   node --expose-gc --import dist/bench/lib/measure-preload.js <server script>
 *   (started with an IPC channel: startTarget(target, { nodeArgs, ipc: true }))
 *
 * IPC in:  {type:'measure'}                 -> {type:'measured', rss, heapUsed, heapTotal, external, arrayBuffers}
 *                                              (after several full GCs; bytes)
 *          {type:'snapshot', path}          -> {type:'snapshotted', path}   (v8.writeHeapSnapshot, after GC)
 * Without an IPC channel or without --expose-gc it does nothing harmful: no channel, no listener;
 * no gc(), figures without a forced GC.
 */
import { writeHeapSnapshot } from 'node:v8';

type Gc = () => void;

function collect(): void {
  const gc = (globalThis as { gc?: Gc }).gc;
  if (!gc) return;
  // Several passes: finalizers and weak callbacks of one pass free more in the next.
  for (let i = 0; i < 4; i++) gc();
}

function reply(message: Record<string, unknown>): void {
  process.send?.(message);
}

if (process.send !== undefined) {
  process.on('message', (message: { type?: string; path?: string }) => {
    if (message.type === 'measure') {
      collect();
      // Let pending weak callbacks / FinalizationRegistry run, then once more.
      setImmediate(() => {
        collect();
        const usage = process.memoryUsage();
        reply({ type: 'measured', rss: usage.rss, heapUsed: usage.heapUsed, heapTotal: usage.heapTotal, external: usage.external, arrayBuffers: usage.arrayBuffers });
      });
    } else if (message.type === 'snapshot' && typeof message.path === 'string') {
      collect();
      const path = writeHeapSnapshot(message.path);
      reply({ type: 'snapshotted', path });
    }
  });
  // The channel alone must not keep a server alive that would otherwise exit.
  process.channel?.unref();
}
