/**
 * One Redis command over a fresh TCP connection, for the helpers' readiness
 * checks (PING, CLUSTER INFO) without a client library or a redis-cli process.
 * Understands the replies those need: simple strings, errors, integers and bulk strings.
 */
import { connect } from 'node:net';

/** With `password` (and `username` for an ACL user), AUTH goes first on the same connection. */
export interface RedisAuth {
  username?: string;
  password?: string;
}

export function redisCommand(host: string, port: number, args: readonly string[], timeoutMs = 2_000, auth: RedisAuth = {}): Promise<string> {
  const encode = (command: readonly string[]): string => `*${command.length}\r\n${command.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('')}`;
  const authArgs = auth.password === undefined ? null : ['AUTH', ...(auth.username === undefined ? [] : [auth.username]), auth.password];
  const request = `${authArgs === null ? '' : encode(authArgs)}${encode(args)}`;
  let authPending = authArgs !== null;
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let received = Buffer.alloc(0);
    const finish = (error: Error | null, value?: string): void => {
      socket.destroy();
      if (error === null) resolve(value ?? '');
      else reject(error);
    };
    socket.setTimeout(timeoutMs, () => finish(new Error(`redis ${host}:${port}: no reply to ${args[0]} within ${timeoutMs} ms`)));
    socket.once('error', (error) => finish(error));
    socket.once('connect', () => socket.write(request));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      for (;;) {
        const reply = parseReply(received);
        if (reply === undefined) return;
        if (reply.error) return finish(new Error(`redis ${host}:${port}: ${reply.value}`));
        if (!authPending) return finish(null, reply.value);
        authPending = false;
        received = received.subarray(reply.length);
      }
    });
  });
}

/** The reply and the bytes it took, or undefined while it is incomplete. */
function parseReply(buffer: Buffer): { error: boolean; value: string; length: number } | undefined {
  const lineEnd = buffer.indexOf('\r\n');
  if (lineEnd < 0) return undefined;
  const type = String.fromCharCode(buffer[0] ?? 0);
  const line = buffer.subarray(1, lineEnd).toString('utf8');
  if (type === '+' || type === ':') return { error: false, value: line, length: lineEnd + 2 };
  if (type === '-') return { error: true, value: line, length: lineEnd + 2 };
  if (type === '$') {
    const length = Number(line);
    if (length < 0) return { error: false, value: '', length: lineEnd + 2 };
    const start = lineEnd + 2;
    if (buffer.length < start + length + 2) return undefined;
    return { error: false, value: buffer.subarray(start, start + length).toString('utf8'), length: start + length + 2 };
  }
  return { error: true, value: `unexpected reply type ${JSON.stringify(type)}`, length: buffer.length };
}
