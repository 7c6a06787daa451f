/**
 * The signature of everything the gateway sends a backend (webhook deliveries,
 * proxy requests): `Roomcast-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
 * "<t>.<raw body>">`, keyed with WEBHOOK_SECRET. The gateway signs with it and
 * @roomcast/server-api verifies with it, so the rule lives here once. Web Crypto
 * only (globalThis.crypto.subtle): no Node import, so it compiles into every
 * package, and `subtle.verify` compares in constant time.
 */

export const SIGNATURE_HEADER = 'Roomcast-Signature';
export const WEBHOOK_ID_HEADER = 'Roomcast-Webhook-Id';
/** A signature older (or further in the future) than this is refused by verifySignature's default. */
export const SIGNATURE_TOLERANCE_S = 300;

const encoder = new TextEncoder();

function hmacKey(secret: string, usage: 'sign' | 'verify'): Promise<CryptoKey> {
  return crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [usage]);
}

function toHex(bytes: ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (byte) => byte.toString(16).padStart(2, '0')).join('');
}

function fromHex(hex: string): Uint8Array | null {
  if (!/^(?:[0-9a-f]{2})+$/i.test(hex)) return null;
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i += 1) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

/** The header value for `body` (the exact bytes sent) at `unixSeconds`. */
export async function signBody(secret: string, body: string, unixSeconds: number = Math.floor(Date.now() / 1000)): Promise<string> {
  const mac = await crypto.subtle.sign('HMAC', await hmacKey(secret, 'sign'), encoder.encode(`${unixSeconds}.${body}`));
  return `t=${unixSeconds},v1=${toHex(mac)}`;
}

export type SignatureProblem = 'missing' | 'malformed' | 'expired' | 'mismatch';

/**
 * Checks a `Roomcast-Signature` header against the raw body: null when it is valid,
 * else why not. Several `v1=` values (a secret being rotated) pass if one matches.
 */
export async function verifySignature(
  secret: string,
  body: string,
  header: string | null | undefined,
  options: { toleranceSeconds?: number; nowSeconds?: number } = {},
): Promise<SignatureProblem | null> {
  if (header === undefined || header === null || header === '') return 'missing';
  const parts = header.split(',').map((part) => part.trim().split('='));
  const t = parts.find(([name]) => name === 't')?.[1];
  const macs = parts.filter(([name]) => name === 'v1').map(([, value]) => fromHex(value ?? ''));
  if (t === undefined || !/^\d{1,12}$/.test(t) || macs.length === 0 || macs.some((mac) => mac === null)) return 'malformed';
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - Number(t)) > (options.toleranceSeconds ?? SIGNATURE_TOLERANCE_S)) return 'expired';
  const key = await hmacKey(secret, 'verify');
  const signed = encoder.encode(`${t}.${body}`);
  for (const mac of macs) {
    if (await crypto.subtle.verify('HMAC', key, mac as Uint8Array<ArrayBuffer>, signed)) return null;
  }
  return 'mismatch';
}
