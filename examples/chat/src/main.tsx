/**
 * The chat example's entry: a name form, then the chat. The backend mints the
 * token (POST /api/login) and tells where the gateway is (GET /config.json).
 */
import { StrictMode, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { Chat } from './Chat.js';
import { login } from './login.js';

function App() {
  const [session, setSession] = useState<{ name: string; gatewayUrl: string } | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  if (session !== null) return <Chat name={session.name} gatewayUrl={session.gatewayUrl} />;
  return (
    <form
      className="login"
      onSubmit={(event) => {
        event.preventDefault();
        const name = String(new FormData(event.currentTarget).get('name') ?? '');
        login(name).then(
          (gatewayUrl) => setSession({ name, gatewayUrl }),
          (error: Error) => setProblem(error.message),
        );
      }}
    >
      <input type="text" name="name" placeholder="Your name" autoFocus />
      <button type="submit">Join the chat</button>
      {problem !== null && <p className="error">{problem}</p>}
    </form>
  );
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
