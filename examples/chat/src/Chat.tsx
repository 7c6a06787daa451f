/**
 * The chat: one client for the page (made once, handed to RoomcastProvider),
 * and components that use the hooks. Everything about delivery (once, in
 * order, across reconnects, gaps reported) is the client's; this file only
 * renders it.
 */
import { RoomcastClient, RoomcastError } from '@roomcast/client';
import { RoomcastProvider } from '@roomcast/client/react';
import { useMemo, useState, type FormEvent } from 'react';
import type { ChatEvents, ChatSignals } from './events.js';
import { usePresence, useRoom, useRoomcast, useSignal } from './hooks.js';
import { fetchToken } from './login.js';

const ROOM = 'chat:lobby';
const TYPING_SHOWN_MS = 3000;

export function Chat({ name, gatewayUrl }: { name: string; gatewayUrl: string }) {
  // One connection for the page's life. useMemo, not an effect: the provider never
  // connects or closes the client, so StrictMode's double mount cannot open a second one.
  const client = useMemo(
    () => new RoomcastClient<ChatEvents, ChatSignals>(gatewayUrl, { token: () => fetchToken(name), refreshToken: () => fetchToken(name) }),
    [gatewayUrl, name],
  );
  return (
    <RoomcastProvider client={client}>
      <Room name={name} />
    </RoomcastProvider>
  );
}

function Room({ name }: { name: string }) {
  const { state: connection } = useRoomcast();
  const { messages, gaps, state, error, publish } = useRoom(ROOM);
  const { users } = usePresence(ROOM);
  const typing = useSignal(ROOM, 'typing', { expireMs: TYPING_SHOWN_MS });
  const [text, setText] = useState('');
  const [refusal, setRefusal] = useState<string | null>(null);

  const typists = [...typing.byMember].filter(([who, signal]) => who !== name && signal.data.typing).map(([who]) => who);

  const send = (event: FormEvent) => {
    event.preventDefault();
    if (text.trim() === '') return;
    setText('');
    typing.send({ typing: false });
    // The backend's publish proxy may refuse it (a link) or rewrite it (masked words).
    publish('chat', { text, name }).then(
      () => setRefusal(null),
      (problem: unknown) => setRefusal(problem instanceof RoomcastError ? problem.message : String(problem)),
    );
  };

  return (
    <div className="chat" data-connection={connection} data-room-state={state}>
      <h1>#lobby</h1>
      <p className="status">
        You are {name} · {connection} · {state}
      </p>
      {error !== null && error !== undefined && <p className="error">Cannot join: {error.message}</p>}
      <div className="row">
        <ul className="messages">
          {gaps.map((gap) => (
            <li className="gap" key={`gap:${gap.epoch}:${gap.from}`}>
              Messages {gap.from} to {gap.to ?? "the end of that epoch"} are gone ({gap.reason})
            </li>
          ))}
          {messages.map((message) =>
            message.event === 'chat' ? (
              <li className="message" key={`${message.epoch}:${message.offset}`} data-offset={message.offset}>
                <b>{message.data.name}</b>: {message.data.text}
              </li>
            ) : (
              <li className="notice" key={`${message.epoch}:${message.offset}`} data-offset={message.offset}>
                {message.data.text}
              </li>
            ),
          )}
        </ul>
        <aside>
          <h2>Online</h2>
          <ul className="online">
            {users.map((user) => (
              <li key={user}>{user}</li>
            ))}
          </ul>
        </aside>
      </div>
      <p className="typing">{typists.length > 0 ? `${typists.join(', ')} ${typists.length === 1 ? 'is' : 'are'} typing…` : ''}</p>
      <form className="send" onSubmit={send}>
        <input
          type="text"
          name="text"
          value={text}
          placeholder="Say something"
          onChange={(event) => {
            setText(event.target.value);
            typing.send({ typing: event.target.value !== '' });
          }}
        />
        <button type="submit">Send</button>
      </form>
      {refusal !== null && <p className="error refusal">{refusal}</p>}
    </div>
  );
}
