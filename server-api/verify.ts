/**
 * Checking what the gateway sends a backend (webhook deliveries, proxy requests):
 * the Roomcast-Signature header against the raw body, with the rule in
 * shared/signature.ts, then the body parsed. A failure throws
 * RoomcastSignatureError with the reason, so a receiver can answer 401 and log why.
 */
import { verifySignature, type SignatureProblem } from '../shared/signature.js';
import type { WebhookDelivery } from '../shared/webhooks.js';

export type VerificationProblem = SignatureProblem | 'invalid-body';

const MESSAGES: Record<VerificationProblem, string> = {
  missing: 'the Roomcast-Signature header is missing',
  malformed: 'the Roomcast-Signature header is malformed',
  expired: 'the signature is too old (or from the future): check the clocks, or a replayed request',
  mismatch: 'the signature does not match the body: a wrong secret or a changed body',
  'invalid-body': 'the signed body is not what the gateway sends',
};

export class RoomcastSignatureError extends Error {
  readonly reason: VerificationProblem;
  constructor(reason: VerificationProblem, detail?: string) {
    super(detail === undefined ? MESSAGES[reason] : `${MESSAGES[reason]}: ${detail}`);
    this.name = 'RoomcastSignatureError';
    this.reason = reason;
  }
}

export interface VerifyOptions {
  /**
   * The gateway's WEBHOOK_SECRET. Several while rotating it: the old and the new one both
   * pass until every gateway node signs with the new one.
   */
  secret: string | readonly string[];
  /** The raw body exactly as received (not re-serialised JSON: that changes the bytes). */
  body: string | Uint8Array;
  /** The Roomcast-Signature header. */
  signature: string | null | undefined;
  /** How far the signature's time may be from now (default 300 s). */
  toleranceSeconds?: number;
  /** The clock, seconds since the epoch (default now). */
  nowSeconds?: number;
}

/** Verifies the signature and parses the body: the JSON value the gateway signed. */
export async function verifySignedBody(options: VerifyOptions): Promise<unknown> {
  const secrets = typeof options.secret === 'string' ? [options.secret] : [...options.secret];
  if (secrets.length === 0 || secrets.some((secret) => typeof secret !== 'string' || secret === '')) throw new TypeError('verify: secret is required');
  const body = typeof options.body === 'string' ? options.body : new TextDecoder().decode(options.body);
  const timing = {
    ...(options.toleranceSeconds === undefined ? {} : { toleranceSeconds: options.toleranceSeconds }),
    ...(options.nowSeconds === undefined ? {} : { nowSeconds: options.nowSeconds }),
  };
  let problem: SignatureProblem | null = 'mismatch';
  for (const secret of secrets) {
    problem = await verifySignature(secret, body, options.signature, timing);
    // Only a mismatch depends on the secret: the next one may match.
    if (problem !== 'mismatch') break;
  }
  if (problem !== null) throw new RoomcastSignatureError(problem);
  try {
    return JSON.parse(body) as unknown;
  } catch {
    throw new RoomcastSignatureError('invalid-body', 'not JSON');
  }
}

/** Verifies a webhook delivery (what the gateway POSTs to WEBHOOK_URL) and returns it typed. */
export async function verifyWebhook(options: VerifyOptions): Promise<WebhookDelivery> {
  const value = await verifySignedBody(options);
  const delivery = value as Partial<WebhookDelivery> | null;
  const isDelivery =
    typeof delivery === 'object' &&
    delivery !== null &&
    typeof delivery.id === 'string' &&
    typeof delivery.createdAt === 'number' &&
    Array.isArray(delivery.events) &&
    delivery.events.every((event) => typeof event === 'object' && event !== null && typeof event.id === 'string' && typeof event.type === 'string');
  if (!isDelivery) throw new RoomcastSignatureError('invalid-body', 'not a webhook delivery ({ id, createdAt, events[] })');
  return delivery as WebhookDelivery;
}
