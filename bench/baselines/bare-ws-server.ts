/**
 * The floor in Node: a bare `ws` server with a Map of rooms.
 *   {"t":"join","room":R}            -> {"t":"joined","room":R}
 *   {"t":"pub","room":R,"data":D}    -> {"t":"msg","room":R,"data":D} to every member (encoded once)
 * Run: node dist/bench/baselines/bare-ws-server.js --port N  (prints {"ready":true,"port":N})
 */
import { WebSocketServer, type WebSocket } from 'ws';

function argPort(): number {
  const at = process.argv.indexOf('--port');
  return at >= 0 ? Number(process.argv[at + 1] ?? 0) : 0;
}

const rooms = new Map<string, Set<WebSocket>>();
const wss = new WebSocketServer({ host: '127.0.0.1', port: argPort(), perMessageDeflate: false });

wss.on('connection', (ws) => {
  const joined = new Set<string>();
  ws.on('message', (raw) => {
    let frame: { t?: unknown; room?: unknown; data?: unknown };
    try {
      frame = JSON.parse(raw.toString()) as typeof frame;
    } catch {
      return;
    }
    if (typeof frame.room !== 'string') return;
    if (frame.t === 'join') {
      let members = rooms.get(frame.room);
      if (!members) rooms.set(frame.room, (members = new Set()));
      members.add(ws);
      joined.add(frame.room);
      ws.send(JSON.stringify({ t: 'joined', room: frame.room }));
    } else if (frame.t === 'pub') {
      const members = rooms.get(frame.room);
      if (!members) return;
      const encoded = JSON.stringify({ t: 'msg', room: frame.room, data: frame.data });
      for (const member of members) member.send(encoded);
    }
  });
  ws.on('close', () => {
    for (const room of joined) {
      const members = rooms.get(room);
      members?.delete(ws);
      if (members?.size === 0) rooms.delete(room);
    }
  });
});

wss.on('listening', () => {
  const address = wss.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  process.stdout.write(`${JSON.stringify({ ready: true, port })}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => process.exit(0));
