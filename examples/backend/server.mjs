/**
 * The backend of the chat example: what an app's own server does for Roomcast.
 *
 * - POST /api/login        a (toy) login: answers a connection token minted for the user
 * - POST /roomcast/proxy   the publish proxy: every chat message passes here before it is stored
 * - POST /roomcast/webhooks presence webhooks: who is online, kept here
 * - GET  /api/online       who is online, from those webhooks
 * - GET  /config.json      where browsers find the gateway
 * - GET  /                 the chat app (examples/chat, built by `npm run build -w examples/chat`)
 *
 * The gateway runs with JWT_SECRET, API_KEYS, WEBHOOK_URL, WEBHOOK_SECRET and
 * PUBLISH_PROXY_URL pointing here (see examples/README.md; `npm run example`
 * sets them all).
 */
import express from 'express';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RoomcastApi, createEventDeduper, mintToken, roomcastProxy, roomcastWebhook } from '@roomcast/server-api';

const env = process.env;
const required = (name) => {
  const value = env[name];
  if (!value) throw new Error(`${name} is required (see examples/README.md)`);
  return value;
};

const config = {
  port: Number(env.PORT ?? 4000),
  host: env.HOST ?? '127.0.0.1',
  /** Where this backend calls the gateway's REST API. */
  gatewayUrl: env.ROOMCAST_URL ?? 'http://127.0.0.1:3000',
  /** Where browsers connect (NGINX in front of the nodes, in production). */
  publicGatewayUrl: env.ROOMCAST_PUBLIC_URL ?? env.ROOMCAST_URL ?? 'http://127.0.0.1:3000',
  apiKey: required('ROOMCAST_API_KEY'),
  jwtSecret: required('JWT_SECRET'),
  webhookSecret: required('WEBHOOK_SECRET'),
  appDir: env.CHAT_APP_DIR ?? fileURLToPath(new URL('../chat/dist/', import.meta.url)),
};

const CHAT_ROOMS = 'chat:*';
const MAX_TEXT = 500;
/** Words the moderation proxy masks. A real app would call its moderation service here. */
const MASKED_WORDS = ['darn', 'heck'];
const LINK = /\bhttps?:\/\//i;

const api = new RoomcastApi({ url: config.gatewayUrl, apiKey: config.apiKey });
const app = express();

// --- Who is online: fed by member.joined / member.left webhooks --------------------------
/** room -> user -> the user's connections in that room (a user may have several tabs open). */
const online = new Map();

function memberJoined({ room, user, connectionId }) {
  const users = online.get(room) ?? new Map();
  online.set(room, users);
  const connections = users.get(user) ?? new Set();
  users.set(user, connections);
  connections.add(connectionId);
  return connections.size === 1;
}

function memberLeft({ room, user, connectionId }) {
  const connections = online.get(room)?.get(user);
  if (!connections?.delete(connectionId) || connections.size > 0) return false;
  online.get(room).delete(user);
  if (online.get(room).size === 0) online.delete(room);
  return true;
}

// Mounted before express.json(): the handlers read and verify the raw body themselves.
app.post(
  '/roomcast/webhooks',
  roomcastWebhook({
    secret: config.webhookSecret,
    // Deliveries are at least once: an event seen before is left out. One process keeps it
    // in memory; several processes would dedupe in their database (a unique key on event.id).
    dedupe: createEventDeduper(),
    onDelivery: async (delivery) => {
      for (const event of delivery.events) {
        if (!event.room.startsWith('chat:')) continue; // user:<sub> rooms are not chat rooms
        if (event.type === 'member.joined' && memberJoined(event)) {
          await announce(event.room, `${event.user} joined`);
        } else if (event.type === 'member.left' && memberLeft(event)) {
          await announce(event.room, `${event.user} left`);
        }
      }
    },
  }),
);

/** A message from the server into a room, over the REST API (retried with one idempotency key). */
async function announce(room, text) {
  await api.publish({ room, event: 'notice', data: { text } });
}

// --- Moderation: the publish proxy ---------------------------------------------------------
app.post(
  '/roomcast/proxy',
  roomcastProxy({
    secret: config.webhookSecret,
    publish: ({ event, data, user }) => {
      if (event !== 'chat') return { result: 'deny', code: 'PUBLISH_FORBIDDEN', message: `clients may not publish "${event}"` };
      const text = typeof data?.text === 'string' ? data.text.trim() : '';
      if (text.length === 0 || text.length > MAX_TEXT) return { result: 'deny', code: 'INVALID_PAYLOAD', message: `a message has 1 to ${MAX_TEXT} characters` };
      if (LINK.test(text)) return { result: 'deny', code: 'PUBLISH_FORBIDDEN', message: 'links are not allowed in this chat' };
      // Rewrite: mask words, and sign the message with the user the gateway authenticated
      // (whatever name the browser put in it).
      const masked = MASKED_WORDS.reduce((out, word) => out.replace(new RegExp(`\\b${word}\\b`, 'gi'), '*'.repeat(word.length)), text);
      return { result: 'allow', data: { text: masked, name: user } };
    },
  }),
);

app.use(express.json());

// --- Login and tokens ------------------------------------------------------------------------
// A toy login: any name is accepted. A real app checks its own session here and mints the
// token for the user it knows.
app.post('/api/login', async (req, res) => {
  const name = typeof req.body?.name === 'string' ? req.body.name : '';
  if (!/^[A-Za-z0-9_-]{1,24}$/.test(name)) {
    res.status(400).json({ ok: false, error: { code: 'INVALID_PAYLOAD', message: 'a name has 1 to 24 letters, digits, _ or -', retryable: false } });
    return;
  }
  const token = await mintToken({ secret: config.jwtSecret, sub: name, rooms: [CHAT_ROOMS], ttl: 3600 });
  res.json({ ok: true, token });
});

app.get('/api/online', (req, res) => {
  const room = typeof req.query.room === 'string' ? req.query.room : 'chat:lobby';
  res.json({ ok: true, room, users: [...(online.get(room)?.keys() ?? [])].sort() });
});

app.get('/config.json', (_req, res) => {
  res.json({ gatewayUrl: config.publicGatewayUrl });
});

if (existsSync(config.appDir)) {
  app.use(express.static(config.appDir));
} else {
  app.get('/', (_req, res) => {
    res.type('text/plain').send('The chat app is not built: npm run build -w examples/chat\n');
  });
}

const server = app.listen(config.port, config.host, () => {
  const { port } = server.address();
  console.log(`example backend on http://${config.host}:${port} (gateway ${config.gatewayUrl}, browsers use ${config.publicGatewayUrl})`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
