/**
 * The demo chat page: a development token from POST /dev/token, one
 * RoomcastClient, one room at a time, presence, a typing indicator (throttled
 * volatile signals), the connection state, and a live counter of the room's
 * chat messages fed by a plain EventSource on GET /sse (the one-way path: it
 * resumes by itself with Last-Event-ID when its connection drops).
 * Plain DOM; every user-provided string goes through textContent.
 */
import { RoomcastClient, RoomcastError, debounce, throttle } from '../../client/index.js';
import type { ConnectionState, DefaultEvents, GapEvent, Message, PresenceMember, TypedSignal } from '../../client/index.js';
import { element } from '../dom.js';

/** The demo's volatile signals (never stored). */
type DemoSignals = { typing: { typing: boolean; name: string } };
/** A typing indicator without a newer signal is dropped after this long (its "stopped" may have been lost). */
const TYPING_SHOWN_MS = 4000;

const CHAT_EVENT = 'chat';
/** How much of a room's history is shown on joining it. */
const RECENT_MESSAGES = 20;

const ui = {
  state: element<HTMLSpanElement>('state'),
  login: element<HTMLElement>('login'),
  loginForm: element<HTMLFormElement>('login-form'),
  name: element<HTMLInputElement>('name'),
  loginError: element<HTMLParagraphElement>('login-error'),
  chat: element<HTMLElement>('chat'),
  roomForm: element<HTMLFormElement>('room-form'),
  room: element<HTMLInputElement>('room'),
  roomName: element<HTMLSpanElement>('room-name'),
  messages: element<HTMLUListElement>('messages'),
  sendForm: element<HTMLFormElement>('send-form'),
  text: element<HTMLInputElement>('text'),
  send: element<HTMLButtonElement>('send'),
  error: element<HTMLParagraphElement>('error'),
  presence: element<HTMLUListElement>('presence'),
  typing: element<HTMLParagraphElement>('typing'),
  sseCount: element<HTMLSpanElement>('sse-count'),
  sseState: element<HTMLSpanElement>('sse-state'),
};

let client: RoomcastClient<DefaultEvents, DemoSignals> | undefined;
/** Who is typing in the current room: user -> the timer that forgets them. */
const typers = new Map<string, ReturnType<typeof setTimeout>>();
let userName = '';
/** The latest development token, for the EventSource (which cannot send headers: the token goes in the query). */
let latestToken = '';
/** The SSE stream of the current room and the chat messages it has carried. */
let liveFeed: EventSource | undefined;
let liveCount = 0;
let currentRoom: string | undefined;
/** Connections present in the current room, by connection id (a user may have several tabs). */
const members = new Map<string, PresenceMember>();

async function fetchToken(user: string): Promise<string> {
  const response = await fetch('/dev/token', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user }),
  });
  const body = (await response.json()) as { token?: string; error?: { message?: string } };
  if (!response.ok || typeof body.token !== 'string') {
    throw new Error(body.error?.message ?? `POST /dev/token answered ${response.status}`);
  }
  latestToken = body.token;
  return body.token;
}

// ---- rendering ------------------------------------------------------------------

function showState(state: ConnectionState | 'recovered', detail?: string): void {
  ui.state.textContent = detail === undefined ? state : `${state} · ${detail}`;
  ui.state.className = `badge ${state === 'recovered' ? 'connected' : state}`;
  ui.send.disabled = state !== 'connected' && state !== 'recovered';
}

function addLine(item: HTMLLIElement): void {
  const nearBottom = ui.messages.scrollHeight - ui.messages.scrollTop - ui.messages.clientHeight < 40;
  ui.messages.append(item);
  if (nearBottom) ui.messages.scrollTop = ui.messages.scrollHeight;
}

function addNote(text: string, kind: 'system' | 'problem' = 'system'): HTMLLIElement {
  const item = document.createElement('li');
  item.className = kind;
  item.textContent = text;
  addLine(item);
  return item;
}

function chatText(data: Message['data']): { name: string; text: string } {
  if (typeof data === 'object' && data !== null && !Array.isArray(data)) {
    const record = data as Record<string, unknown>;
    return { name: typeof record.name === 'string' ? record.name : '', text: typeof record.text === 'string' ? record.text : JSON.stringify(data) };
  }
  return { name: '', text: JSON.stringify(data) };
}

function messageLine(message: Message): HTMLLIElement {
  const { name, text } = message.event === CHAT_EVENT ? chatText(message.data) : { name: message.event, text: JSON.stringify(message.data) };
  const item = document.createElement('li');
  const who = document.createElement('span');
  who.className = 'who';
  who.textContent = name || message.from || 'server';
  const body = document.createElement('span');
  body.textContent = text;
  const meta = document.createElement('span');
  meta.className = 'meta';
  meta.textContent = `#${message.offset} · ${new Date(message.ts).toLocaleTimeString()}`;
  item.append(who, body, meta);
  return item;
}

function showMessage(message: Message): void {
  addLine(messageLine(message));
}

function showGap(gap: GapEvent): void {
  if (gap.to === null) {
    addNote(`The room's history was reset on the gateway; anything after #${gap.from - 1} that was not shown is lost.`, 'problem');
    return;
  }
  const range = gap.from === gap.to ? `#${gap.from}` : `#${gap.from}–#${gap.to}`;
  addNote(`Messages ${range} are no longer available (${gap.reason}).`, 'problem');
}

function renderTyping(): void {
  const names = [...typers.keys()].sort();
  ui.typing.textContent = names.length === 0 ? '' : `${names.join(', ')} ${names.length === 1 ? 'is' : 'are'} typing…`;
}

function clearTyping(): void {
  for (const timer of typers.values()) clearTimeout(timer);
  typers.clear();
  renderTyping();
}

function onTypingSignal(signal: TypedSignal<DemoSignals>): void {
  const who = signal.data.name || signal.from;
  const previous = typers.get(who);
  if (previous !== undefined) clearTimeout(previous);
  if (signal.data.typing) {
    typers.set(
      who,
      setTimeout(() => {
        typers.delete(who);
        renderTyping();
      }, TYPING_SHOWN_MS),
    );
  } else {
    typers.delete(who);
  }
  renderTyping();
}

/** Signals the current room that this user is typing (or stopped); dropped while offline, never queued. */
function sendTyping(typing: boolean): void {
  if (client === undefined || currentRoom === undefined) return;
  client.signal(currentRoom, 'typing', { typing, name: userName }).catch(() => undefined);
}
/** At most one "typing" per 1.5 s while keys come, and "stopped" 2 s after the last one. */
const typingNow = throttle(() => sendTyping(true), 1500);
const typingStopped = debounce(() => sendTyping(false), 2000);

function renderPresence(): void {
  const counts = new Map<string, number>();
  for (const member of members.values()) counts.set(member.userId, (counts.get(member.userId) ?? 0) + 1);
  const items = [...counts.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([user, connections]) => {
      const item = document.createElement('li');
      item.textContent = connections > 1 ? `${user} (${connections})` : user;
      return item;
    });
  ui.presence.replaceChildren(...items);
}

function showError(error: unknown): void {
  ui.error.textContent = error instanceof RoomcastError ? `${error.code}: ${error.message}` : error instanceof Error ? error.message : String(error);
}

// ---- behaviour ------------------------------------------------------------------

async function refreshPresence(room: string): Promise<void> {
  if (client === undefined) return;
  const list = await client.presence(room);
  if (room !== currentRoom) return;
  members.clear();
  for (const member of list) members.set(member.connectionId, member);
  renderPresence();
}

/** The last few messages before the join, placed right after the join note, above anything that arrived live meanwhile. */
async function showRecent(room: string, epoch: string, offset: number, note: HTMLLIElement): Promise<void> {
  if (client === undefined || offset === 0) return;
  const page = await client.history(room, { since: { epoch, offset: Math.max(0, offset - RECENT_MESSAGES) }, limit: RECENT_MESSAGES });
  if (room !== currentRoom) return;
  let anchor: HTMLLIElement = note;
  // Offsets above the join's come live through the room's callback: showing them here too would show them twice.
  for (const message of page.messages.filter((candidate) => candidate.epoch === epoch && candidate.offset <= offset)) {
    const line = messageLine(message);
    anchor.after(line);
    anchor = line;
  }
  ui.messages.scrollTop = ui.messages.scrollHeight;
}

/** Counts the room's chat messages from GET /sse; the browser reconnects it and resumes from the last event id. */
function followLive(room: string): void {
  liveFeed?.close();
  liveCount = 0;
  ui.sseCount.textContent = '0';
  ui.sseState.textContent = 'connecting';
  const feed = new EventSource(`/sse?room=${encodeURIComponent(room)}&token=${encodeURIComponent(latestToken)}`);
  liveFeed = feed;
  feed.addEventListener('open', () => {
    if (liveFeed === feed) ui.sseState.textContent = 'live';
  });
  feed.addEventListener('error', () => {
    if (liveFeed === feed) ui.sseState.textContent = feed.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting';
  });
  feed.addEventListener(CHAT_EVENT, () => {
    if (liveFeed !== feed) return;
    liveCount += 1;
    ui.sseCount.textContent = String(liveCount);
  });
}

async function switchRoom(room: string): Promise<void> {
  if (client === undefined || room === currentRoom) return;
  const previous = currentRoom;
  currentRoom = room;
  ui.roomName.textContent = room;
  followLive(room);
  ui.messages.replaceChildren();
  members.clear();
  renderPresence();
  clearTyping();
  typingNow.cancel();
  typingStopped.cancel();
  ui.error.textContent = '';
  // Leaving fails only if the gateway does not answer; the new room is joined regardless.
  if (previous !== undefined) await client.leave(previous).catch(showError);
  // Added first, so messages delivered with the join ack land below it and recent history right after it.
  const note = addNote(`Joining ${room}…`);
  try {
    const joined = await client.join(room, (message) => {
      if (room === currentRoom) showMessage(message);
    }, {
      onGap: showGap,
      onSignal: (signal) => {
        if (room === currentRoom && signal.event === 'typing') onTypingSignal(signal);
      },
      onPresence: (change) => {
        if (room !== currentRoom) return;
        if (change.type === 'join') members.set(change.member.connectionId, change.member);
        else members.delete(change.member.connectionId);
        renderPresence();
      },
    });
    note.textContent = `Joined ${room}.`;
    await Promise.all([showRecent(room, joined.epoch, joined.offset, note), refreshPresence(room)]);
  } catch (error) {
    showError(error);
    note.remove();
    if (currentRoom === room) currentRoom = undefined;
  }
}

function start(name: string): void {
  userName = name;
  const fresh = (): Promise<string> => fetchToken(name);
  client = new RoomcastClient<DefaultEvents, DemoSignals>(window.location.origin, { token: fresh, refreshToken: fresh });
  client.on('state', (state) => {
    showState(state);
    if (state === 'reconnecting') addNote('Connection lost, reconnecting…');
  });
  client.on('recovered', (event) => {
    if (event.room !== currentRoom) return;
    showState('recovered', `${event.missed} missed`);
    addNote(`Reconnected; ${event.missed} missed message${event.missed === 1 ? '' : 's'} recovered.`);
    // Presence may have changed while we were away.
    refreshPresence(event.room).catch(showError);
  });
  client.on('draining', (event) => addNote(`This gateway node is shutting down; moving in ${Math.round(event.reconnectInMs / 1000)} s.`));
  client.on('error', showError);
  showState(client.state);
  ui.login.hidden = true;
  ui.chat.hidden = false;
  ui.text.focus();
  void switchRoom(ui.room.value.trim());
}

ui.loginForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const name = ui.name.value.trim();
  ui.loginError.textContent = '';
  // Fetch once up front so a bad name or a gateway without /dev/token is reported here, not as a connection error.
  fetchToken(name).then(
    () => start(name),
    (error: unknown) => {
      ui.loginError.textContent = error instanceof Error ? error.message : String(error);
    },
  );
});

ui.roomForm.addEventListener('submit', (event) => {
  event.preventDefault();
  void switchRoom(ui.room.value.trim());
});

ui.text.addEventListener('input', () => {
  if (ui.text.value.trim() === '') return;
  typingNow();
  typingStopped();
});

ui.sendForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = ui.text.value.trim();
  if (client === undefined || currentRoom === undefined || text === '') return;
  typingNow.cancel();
  typingStopped.flush();
  ui.error.textContent = '';
  client.publish(currentRoom, CHAT_EVENT, { text, name: userName }).then(
    () => {
      ui.text.value = '';
    },
    showError,
  );
});

window.addEventListener('pagehide', () => client?.close());
