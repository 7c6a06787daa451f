/**
 * The client address of a request, for per-address limits and logs.
 * X-Forwarded-For is believed only when the request comes from a trusted proxy
 * (TRUSTED_PROXIES, default loopback: NGINX on the same host): the client is
 * then the rightmost address of the header that is not itself a trusted proxy.
 * Anyone else could write any address into the header and dodge the limits.
 * Addresses are normalised (an IPv4-mapped IPv6 address is its IPv4 form).
 */
import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';

function normalise(address: string): string {
  const trimmed = address.trim();
  return trimmed.startsWith('::ffff:') && isIP(trimmed.slice(7)) === 4 ? trimmed.slice(7) : trimmed;
}

/** Trust decisions kept (a BlockList check builds a SocketAddress each time); past this many, the memo starts over. */
const TRUST_MEMO_MAX = 4096;

export class ClientAddresses {
  private readonly trusted = new BlockList();
  private readonly trustsAny: boolean;
  private readonly trustMemo = new Map<string, boolean>();
  /** A request's address, worked out once: the admission check and the session both ask for it. */
  private readonly addressOf = new WeakMap<object, string>();

  /** `trusted`: `loopback`, addresses and CIDR ranges (validated by the configuration). */
  constructor(trusted: readonly string[]) {
    for (const item of trusted) {
      if (item === 'loopback') {
        this.trusted.addSubnet('127.0.0.0', 8, 'ipv4');
        this.trusted.addAddress('::1', 'ipv6');
        continue;
      }
      const [address = '', bits] = item.split('/');
      const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
      if (bits === undefined) this.trusted.addAddress(address, family);
      else this.trusted.addSubnet(address, Number(bits), family);
    }
    this.trustsAny = trusted.length > 0;
  }

  /** Whether `address` is a trusted proxy. */
  isTrusted(address: string): boolean {
    const known = this.trustMemo.get(address);
    if (known !== undefined) return known;
    const normalised = normalise(address);
    const family = isIP(normalised);
    const trusted = this.trustsAny && family !== 0 && this.trusted.check(normalised, family === 6 ? 'ipv6' : 'ipv4');
    if (this.trustMemo.size >= TRUST_MEMO_MAX) this.trustMemo.clear();
    this.trustMemo.set(address, trusted);
    return trusted;
  }

  /** The client address of `req`: its peer, or, behind a trusted proxy, what X-Forwarded-For says. */
  of(req: Pick<IncomingMessage, 'headers' | 'socket'>): string {
    const known = this.addressOf.get(req);
    if (known !== undefined) return known;
    const address = this.work(req);
    this.addressOf.set(req, address);
    return address;
  }

  private work(req: Pick<IncomingMessage, 'headers' | 'socket'>): string {
    const peer = normalise(req.socket.remoteAddress ?? '');
    if (!this.isTrusted(peer)) return peer;
    const header = req.headers['x-forwarded-for'];
    const forwarded = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',').map(normalise).filter((address) => isIP(address) !== 0);
    for (let index = forwarded.length - 1; index >= 0; index -= 1) {
      const address = forwarded[index] as string;
      if (!this.isTrusted(address)) return address;
    }
    return forwarded[0] ?? peer;
  }
}
