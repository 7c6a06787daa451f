/**
 * The floor for an HTTP publication in Node: a bare node:http server that reads a
 * small JSON body, parses it and answers 200, with nothing behind it (no rooms, no
 * store). What Roomcast's publish path costs above this is ours (Express,
 * validation, history, the adapter); what this costs is Node's HTTP server.
 *   POST /pub   {room, data}             -> 200 {"ok":true}
 *   POST /batch {publications: [...]}    -> 200 {"ok":true,"count":n}
 * Run: node dist/bench/baselines/http-floor-server.js --port N  (prints {"ready":true,"port":N})
 */
import { createServer } from 'node:http';

function argPort(): number {
  const at = process.argv.indexOf('--port');
  return at >= 0 ? Number(process.argv[at + 1] ?? 0) : 0;
}

const server = createServer((req, res) => {
  if (req.method !== 'POST' || (req.url !== '/pub' && req.url !== '/batch')) {
    res.writeHead(404).end();
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString()) as { room?: unknown; publications?: unknown };
      const answer = req.url === '/batch' ? { ok: true, count: Array.isArray(body.publications) ? body.publications.length : 0 } : { ok: typeof body.room === 'string' };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    } catch {
      res.writeHead(400).end();
    }
  });
});
// Longer than any client's idle reuse, like Roomcast's: a keep-alive socket is never closed under a request.
server.keepAliveTimeout = 65_000;

server.listen(argPort(), '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  process.stdout.write(`${JSON.stringify({ ready: true, port })}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => process.exit(0));
