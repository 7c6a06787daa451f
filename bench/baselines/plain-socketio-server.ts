/**
 * What a team writes following the Socket.IO docs: `new Server(httpServer)` with
 * default options, the Redis adapter when REDIS_URL is set, events `join` and
 * `pub`, and HTTP POST /pub {room, data} for a backend publisher.
 *
 * It does the same per-connection job as Roomcast where a scenario compares the
 * cost of accepting a connection (issue 16 counts "JWT + join"):
 * - JWT_SECRET set: the handshake's `auth.token` is verified (HS256, jose, the
 *   key imported once, as Roomcast does) in `io.use`; no valid token, no connection.
 * - Joins and disconnects are announced to the room's other members
 *   (`presence:join` / `presence:leave`) while the room, counting that member, has
 *   at most PRESENCE_EVENTS_MAX_MEMBERS members (default 100, Roomcast's
 *   default; 0: never), as a hand-rolled gateway with presence does.
 * Run: node dist/bench/baselines/plain-socketio-server.js --port N  (prints {"ready":true,"port":N})
 */
import { createServer } from 'node:http';
import { Server, type Socket } from 'socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';
import { jwtVerify } from 'jose';

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

const jwtSecret = process.env.JWT_SECRET;
const hmacKey = jwtSecret ? crypto.subtle.importKey('raw', new TextEncoder().encode(jwtSecret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']) : null;
if (hmacKey !== null) {
  io.use((socket, next) => {
    const token: unknown = (socket.handshake.auth as { token?: unknown }).token;
    if (typeof token !== 'string') return next(new Error('unauthenticated'));
    hmacKey
      .then((key) => jwtVerify(token, key, { algorithms: ['HS256'], requiredClaims: ['exp'] }))
      .then(({ payload }) => {
        socket.data.user = payload.sub;
        next();
      })
      .catch(() => next(new Error('unauthenticated')));
  });
}

const presenceMax = Number(process.env.PRESENCE_EVENTS_MAX_MEMBERS ?? 100);
function announce(socket: Socket, room: string, event: 'presence:join' | 'presence:leave'): void {
  const size = io.of('/').adapter.rooms.get(room)?.size ?? 0;
  // A leave is counted before the member goes (disconnecting): the room still holds it.
  if (size > presenceMax) return;
  socket.to(room).emit(event, { room, member: { userId: socket.data.user as string | undefined, connectionId: socket.id } });
}

io.on('connection', (socket) => {
  socket.on('join', async (room: unknown, ack?: unknown) => {
    if (typeof room !== 'string') return;
    await socket.join(room);
    announce(socket, room, 'presence:join');
    if (typeof ack === 'function') (ack as (value: unknown) => void)({ ok: true });
  });
  socket.on('disconnecting', () => {
    for (const room of socket.rooms) if (room !== socket.id) announce(socket, room, 'presence:leave');
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
