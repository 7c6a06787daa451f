/**
 * A small React app on @roomcast/client/react for the Chromium test
 * (test/e2e/react-hooks.test.ts), bundled with esbuild at test time (React's
 * development build, so StrictMode really mounts every component twice). No JSX:
 * React.createElement.
 *
 * Each "user" is one RoomcastClient with its own React root in <StrictMode>;
 * the test drives the page through `window.reactTest` (mount a user, show or hide
 * each part) and reads the DOM. The client's token comes from the test server's
 * /token route (which the test can hold, to keep a client away while it publishes).
 * Every packet a client sends is counted, so the test can see how many
 * room:join / room:leave went out.
 */
import { createElement as h, StrictMode, useEffect, type ReactElement } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { RoomcastClient } from '../../../client/index.js';
import { createRoomcastHooks, RoomcastProvider } from '../../../client/react/index.js';

interface TestEvents {
  chat: { text: string };
}
interface TestSignals {
  typing: { typing: boolean };
}

const { useRoomcast, useRoom, usePresence, useSignal } = createRoomcastHooks<TestEvents, TestSignals>();

/** Which parts a user's panel shows, each on its own room. */
export interface PanelProps {
  room?: string | undefined;
  presence?: string | undefined;
  signal?: string | undefined;
}

/** What the test reads besides the DOM. */
interface UserRecord {
  /** Outgoing packets: `<event> <room>`. */
  sent: string[];
  /** The room view's states, consecutive duplicates removed (StrictMode re-runs effects). */
  states: string[];
  /** Mount effects of room views: StrictMode's double mount makes it 2 per view (proof it was in force). */
  roomMounts: number;
}

const params = new URLSearchParams(location.search);
const gatewayUrl = params.get('gateway') ?? '';
const parser = params.get('parser') === 'msgpack' ? 'msgpack' : 'json';
const users = new Map<string, { client: RoomcastClient<TestEvents, TestSignals>; root: Root; record: UserRecord }>();

function Connection(): ReactElement {
  const { state } = useRoomcast();
  return h('span', { className: 'conn' }, state);
}

function RoomView({ room, record }: { room: string; record: UserRecord }): ReactElement {
  const { messages, gaps, state, error } = useRoom(room, { maxMessages: 50 });
  useEffect(() => {
    record.roomMounts += 1;
  }, [record]);
  useEffect(() => {
    if (record.states.at(-1) !== state) record.states.push(state);
  }, [state, record]);
  return h(
    'div',
    { className: 'room', 'data-state': state },
    h(
      'ul',
      { className: 'messages' },
      messages.map((message) => h('li', { key: `${message.epoch}:${message.offset}`, 'data-offset': message.offset }, message.data.text)),
    ),
    h(
      'ul',
      { className: 'gaps' },
      gaps.map((gap) => h('li', { key: `${gap.epoch}:${gap.from}` }, `${gap.from}-${gap.to ?? ''} ${gap.reason}`)),
    ),
    error === undefined ? null : h('div', { className: 'error' }, error.code),
  );
}

function PresenceView({ room }: { room: string }): ReactElement {
  const { users: present, loaded } = usePresence(room);
  return h(
    'ul',
    { className: 'presence', 'data-loaded': String(loaded) },
    present.map((user) => h('li', { key: user }, user)),
  );
}

function SignalView({ room }: { room: string }): ReactElement {
  const { byMember, send, state } = useSignal(room, 'typing');
  const typing = [...byMember].filter(([, signal]) => signal.data.typing).map(([from]) => from);
  return h(
    'div',
    { className: 'signal', 'data-state': state },
    h('input', { className: 'typing', onInput: () => send({ typing: true }) }),
    h('div', { className: 'typing-now' }, typing.map((from) => h('span', { key: from }, `${from} is typing`))),
  );
}

function Panel({ props, record }: { props: PanelProps; record: UserRecord }): ReactElement {
  return h(
    'div',
    null,
    h(Connection),
    props.room === undefined ? null : h(RoomView, { room: props.room, record }),
    props.presence === undefined ? null : h(PresenceView, { room: props.presence }),
    props.signal === undefined ? null : h(SignalView, { room: props.signal }),
  );
}

const reactTest = {
  /** Starts a user: a client, and a StrictMode root under <div id=user> showing `props`. */
  mount(user: string, props: PanelProps): void {
    const client = new RoomcastClient<TestEvents, TestSignals>(gatewayUrl, {
      token: async () => (await fetch(`/token?user=${encodeURIComponent(user)}`)).text(),
      transports: ['websocket'],
      parser,
      reconnectionDelay: 50,
      reconnectionDelayMax: 200,
    });
    const record: UserRecord = { sent: [], states: [], roomMounts: 0 };
    client.socket.onAnyOutgoing((event: string, payload?: { room?: string }) => record.sent.push(`${event} ${payload?.room ?? ''}`));
    const container = document.createElement('div');
    container.id = user;
    document.body.append(container);
    const root = createRoot(container);
    users.set(user, { client, root, record });
    reactTest.show(user, props);
  },
  /** Renders the user's panel with other parts (a part left out is unmounted). */
  show(user: string, props: PanelProps): void {
    const entry = users.get(user);
    if (entry === undefined) throw new Error(`no user ${user}`);
    entry.root.render(h(StrictMode, null, h(RoomcastProvider, { client: entry.client }, h(Panel, { props, record: entry.record }))));
  },
  record(user: string): UserRecord {
    const entry = users.get(user);
    if (entry === undefined) throw new Error(`no user ${user}`);
    return entry.record;
  },
};

(window as unknown as { reactTest: typeof reactTest }).reactTest = reactTest;
