/**
 * One publication into one room: size check, store (which assigns the offset),
 * then fan out. Shared by the HTTP API and the socket handler, so both give
 * the same guarantees. A duplicate (same idempotency key) is broadcast again:
 * a node that stored a message and died before broadcasting it is repaired by
 * the publisher's retry, and clients drop the offset they already have.
 */
import { MAX_DATA_DEPTH, type JsonValue, type Message, type PublishResult } from '../../shared/index.js';
import { RoomcastError } from '../errors.js';
import type { Fanout } from './fanout.js';
import type { AppendItem, AppendResult, HistoryStore, NewPublication } from './history-store.js';

/** Told of each new publication (not of idempotent repeats), after its broadcast: for metrics. */
export type OnPublished = (namespace: string, source: 'client' | 'http') => void;

/** A new publication from a connection (room:publish), as stored: what the `publication` webhook event reports. */
export interface ClientPublication {
  namespace: string;
  message: Message;
  /** The publishing connection, when the handler names it. */
  connectionId?: string;
}

export type ClientPublicationListener = (publication: ClientPublication) => void;

export interface PublishInput {
  namespace: string;
  room: string;
  event: string;
  data: JsonValue;
  from?: string;
  /** The publishing connection (room:publish): for the `publication` webhook event. */
  connectionId?: string;
  idempotencyKey?: string;
  /** Who published: a connection (room:publish) or a backend over HTTP (the default). */
  source?: 'client' | 'http';
  /** `data` as JSON text, as checkData() returned it; given, publish() neither checks nor serialises `data` again. */
  dataJson?: string;
}

export interface PublishOutcome extends PublishResult {
  duplicate: boolean;
}

/** One publication of publishMany: its outcome, or its own error (as publish would have thrown it). */
export type PublishManyResult = { ok: true; outcome: PublishOutcome } | { ok: false; error: unknown };

/** Nesting depth of a JSON value, measured without recursion so hostile input cannot exhaust the stack. */
export function jsonDepth(value: JsonValue, stopAbove: number = Infinity): number {
  let deepest = 0;
  const pending: Array<[unknown, number]> = [[value, 0]];
  while (pending.length > 0) {
    const [node, depth] = pending.pop() as [unknown, number];
    if (node === null || typeof node !== 'object') continue;
    const level = depth + 1;
    if (level > deepest) deepest = level;
    if (deepest > stopAbove) return deepest;
    for (const child of Array.isArray(node) ? node : Object.values(node)) pending.push([child, level]);
  }
  return deepest;
}

/** Size of `data` as the JSON text a client will receive, in bytes. */
export function payloadBytes(data: JsonValue): number {
  return Buffer.byteLength(JSON.stringify(data) ?? '', 'utf8');
}

export class Publisher {
  private readonly clientPublicationListeners = new Set<ClientPublicationListener>();

  constructor(
    private readonly history: HistoryStore,
    private readonly fanout: Fanout,
    private readonly maxPayloadBytes: number,
    private readonly onPublished: OnPublished = () => undefined,
  ) {}

  /**
   * Throws PAYLOAD_TOO_LARGE or INVALID_PAYLOAD (too deep) before anything is stored. Returns `data` as JSON
   * text, which publish() takes as `dataJson` so that one publication is serialised once (the Redis history
   * stores that text), however many rooms it goes to.
   */
  checkData(data: JsonValue): string {
    if (jsonDepth(data, MAX_DATA_DEPTH) > MAX_DATA_DEPTH) {
      throw new RoomcastError('INVALID_PAYLOAD', `data may nest at most ${MAX_DATA_DEPTH} levels deep`);
    }
    const json = JSON.stringify(data) ?? 'null';
    const bytes = Buffer.byteLength(json, 'utf8');
    if (bytes > this.maxPayloadBytes) {
      throw new RoomcastError('PAYLOAD_TOO_LARGE', `data is ${bytes} bytes; the limit is ${this.maxPayloadBytes}`);
    }
    return json;
  }

  /** Tells `listener` of each new client publication (not an idempotent repeat), after its broadcast; returns the unsubscribe. */
  onClientPublication(listener: ClientPublicationListener): () => void {
    this.clientPublicationListeners.add(listener);
    return () => void this.clientPublicationListeners.delete(listener);
  }

  async publish(input: PublishInput): Promise<PublishOutcome> {
    const dataJson = input.dataJson ?? this.checkData(input.data);
    const appended = await this.history.append(input.namespace, input.room, this.newPublication(input, dataJson, Date.now()), input.idempotencyKey);
    return this.stored(input, appended);
  }

  /**
   * publish for many publications (rooms and namespaces mixed) with one store call (HistoryStore.appendMany:
   * one Redis script call on a single Redis), then each stored one broadcast, in order, with the same
   * listeners and metrics as publish. A room's offsets follow the order given. Never rejects: results[i]
   * answers inputs[i], its outcome or its own error (a refused item does not touch the others).
   */
  async publishMany(inputs: readonly PublishInput[]): Promise<PublishManyResult[]> {
    const results = new Array<PublishManyResult>(inputs.length);
    const items: AppendItem[] = [];
    const itemInputs: Array<{ index: number; input: PublishInput }> = [];
    const ts = Date.now();
    inputs.forEach((input, index) => {
      let dataJson: string;
      try {
        dataJson = input.dataJson ?? this.checkData(input.data);
      } catch (error) {
        results[index] = { ok: false, error };
        return;
      }
      items.push({
        namespace: input.namespace,
        room: input.room,
        publication: this.newPublication(input, dataJson, ts),
        ...(input.idempotencyKey !== undefined ? { idempotencyKey: input.idempotencyKey } : {}),
      });
      itemInputs.push({ index, input });
    });
    const appended = items.length > 0 ? await this.history.appendMany(items) : [];
    appended.forEach((answer, i) => {
      const { index, input } = itemInputs[i] as { index: number; input: PublishInput };
      if (!answer.ok) {
        results[index] = answer;
        return;
      }
      try {
        results[index] = { ok: true, outcome: this.stored(input, answer.result) };
      } catch (error) {
        results[index] = { ok: false, error };
      }
    });
    return results;
  }

  private newPublication(input: PublishInput, dataJson: string, ts: number): NewPublication {
    return { event: input.event, data: input.data, dataJson, ts, ...(input.from !== undefined ? { from: input.from } : {}) };
  }

  /** After the store: the broadcast (a duplicate too), then metrics and listeners for a new publication. */
  private stored(input: PublishInput, { message, duplicate }: AppendResult): PublishOutcome {
    this.fanout.broadcast(input.namespace, message);
    if (!duplicate) this.onPublished(input.namespace, input.source ?? 'http');
    if (!duplicate && input.source === 'client') {
      const publication: ClientPublication = { namespace: input.namespace, message, ...(input.connectionId === undefined ? {} : { connectionId: input.connectionId }) };
      for (const listener of this.clientPublicationListeners) listener(publication);
    }
    return { room: input.room, epoch: message.epoch, offset: message.offset, duplicate };
  }
}
