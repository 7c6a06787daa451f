/**
 * What a team writes following the Socket.IO docs: `new Server(httpServer)` with
 * default options, the Redis adapter when REDIS_URL is set, events `join` and
 * `pub`, and HTTP POST /pub {room, data} for a backend publisher.
 * Run: node dist/bench/baselines/plain-socketio-server.js --port N  (prints {"ready":true,"port":N})
 */
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';

function argPort(): number {
  const at = process.argv.indexOf('--port');
  return at >= 0 ? Number(process.argv[at + 1] ?? 0) : 0;
}

const httpServer = createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/pub') {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString()) as { room: string; data: unknown };
        io.to(body.room).emit('message', body.data);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      } catch {
        res.writeHead(400).end();
      }
    });
    return;
  }
  res.writeHead(404).end();
});

const io = new Server(httpServer);

io.on('connection', (socket) => {
  socket.on('join', async (room: unknown, ack?: unknown) => {
    if (typeof room !== 'string') return;
    await socket.join(room);
    if (typeof ack === 'function') (ack as (value: unknown) => void)({ ok: true });
  });
  socket.on('pub', (room: unknown, data: unknown) => {
    if (typeof room === 'string') io.to(room).emit('message', data);
  });
});

async function main(): Promise<void> {
  const redisUrl = process.env.REDIS_URL;
  if (redisUrl) {
    const pubClient = createClient({ url: redisUrl });
    const subClient = pubClient.duplicate();
    await Promise.all([pubClient.connect(), subClient.connect()]);
    io.adapter(createAdapter(pubClient, subClient));
  }
  httpServer.listen(argPort(), '127.0.0.1', () => {
    const address = httpServer.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    process.stdout.write(`${JSON.stringify({ ready: true, port })}\n`);
  });
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => process.exit(0));
main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
