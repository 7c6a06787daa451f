/** Free TCP ports, found by letting the kernel pick one and releasing it. */
import { createServer } from 'node:net';

export function freePort(host = '127.0.0.1'): Promise<number> {
  return listenOnce(host, 0);
}

/** Whether `port` can be listened on now (another process may take it right after). */
export async function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  try {
    await listenOnce(host, port);
    return true;
  } catch {
    return false;
  }
}

/**
 * A free port whose companion `port + offset` is free too (Redis Cluster's bus
 * port is port + 10000). Picked below the kernel's ephemeral range (32768 and
 * up on Linux), so that outgoing connections do not take either port between
 * this check and the server's bind.
 */
export async function freePortWithCompanion(offset: number, host = '127.0.0.1', attempts = 50): Promise<number> {
  const low = 10_000;
  const high = 32_768 - offset;
  if (high <= low) throw new RangeError(`no port range leaves room for an offset of ${offset}`);
  for (let attempt = 0; attempt < attempts; attempt += 1) {
    const port = low + Math.floor(Math.random() * (high - low));
    if ((await isPortFree(port, host)) && (await isPortFree(port + offset, host))) return port;
  }
  throw new Error(`no free port pair (offset ${offset}) after ${attempts} attempts`);
}

function listenOnce(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => {
      const address = server.address();
      const chosen = typeof address === 'object' && address !== null ? address.port : port;
      server.close(() => resolve(chosen));
    });
  });
}
