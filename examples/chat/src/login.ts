/** Talks to the example backend: where the gateway is, and a token for a name. */
export async function login(name: string): Promise<string> {
  await fetchToken(name); // the name is checked here, before the chat shows
  const config = (await (await fetch('/config.json')).json()) as { gatewayUrl: string };
  return config.gatewayUrl;
}

/** A fresh token for the user: called on every (re)connect and before the token expires. */
export async function fetchToken(name: string): Promise<string> {
  const response = await fetch('/api/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
  });
  const body = (await response.json()) as { ok: true; token: string } | { ok: false; error: { message: string } };
  if (!body.ok) throw new Error(body.error.message);
  return body.token;
}
