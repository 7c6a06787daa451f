/**
 * The probe, after the publishers stopped and the consumers caught up: each
 * node in turn publishes one publication in every room, and every consumer of
 * the room must receive it within `waitMs`, live. A node that stopped
 * receiving a room's broadcasts from the others (left unsubscribed from a room
 * it still serves, a subscriber connection that did not come back after a
 * Redis restart) shows here: its members get the publications of other nodes
 * only when a later one of their own node reveals the gap, or never, depending
 * on who published last. Each node taking its turn makes sure another node's
 * publication is the last one somewhere.
 */
import type { ChaosConsumer } from './consumers.js';
import type { PublishRecord } from './ledger.js';
import type { PublisherFleet, PublishTarget } from './publishers.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface ProbeStall {
  room: string;
  /** The node the publication was made on. */
  via: string;
  epoch: string;
  offset: number;
  consumer: string;
  kind: string;
  /** The consumer's node (pinned, or its Engine.IO session's), or `nginx` when unknown. */
  node: string;
  /** Where it stood when the wait ended. */
  position: string;
}

export interface ProbeResult {
  steps: Array<{ via: string; published: number; refused: number; slowestMs: number | null; stalls: number }>;
  stalls: ProbeStall[];
}

export async function probe(options: {
  rooms: readonly string[];
  targets: readonly PublishTarget[];
  publishers: PublisherFleet;
  consumers: () => readonly ChaosConsumer[];
  waitMs: number;
}): Promise<ProbeResult> {
  const result: ProbeResult = { steps: [], stalls: [] };
  for (const target of options.targets) {
    const records = await Promise.all(options.rooms.map((room) => options.publishers.publishVia(target.id, room)));
    const published = records.filter((record): record is PublishRecord & { epoch: string; offset: number } => record.outcome === 'published' && record.epoch !== undefined && record.offset !== undefined);
    const started = Date.now();
    const waiting = new Map<string, { consumer: ChaosConsumer; record: PublishRecord & { epoch: string; offset: number } }>();
    for (const record of published) {
      for (const consumer of options.consumers()) {
        if (consumer.rooms().includes(record.room)) waiting.set(`${consumer.id}|${record.room}`, { consumer, record });
      }
    }
    let slowest: number | null = null;
    while (waiting.size > 0 && Date.now() - started < options.waitMs) {
      for (const [id, { consumer, record }] of waiting) {
        const position = consumer.position(record.room);
        if (position !== undefined && position.epoch === record.epoch && position.offset >= record.offset) {
          waiting.delete(id);
          slowest = Math.max(slowest ?? 0, Date.now() - started);
        }
      }
      if (waiting.size > 0) await sleep(20);
    }
    for (const { consumer, record } of waiting.values()) {
      const position = consumer.position(record.room);
      result.stalls.push({
        room: record.room,
        via: target.id,
        epoch: record.epoch,
        offset: record.offset,
        consumer: consumer.membership(record.room) ?? consumer.id,
        kind: consumer.kind,
        node: consumer.pinnedNode ?? consumer.connectedNode ?? 'nginx',
        position: position === undefined ? 'none' : `${position.epoch}:${position.offset}`,
      });
    }
    result.steps.push({ via: target.id, published: published.length, refused: records.length - published.length, slowestMs: slowest, stalls: waiting.size });
  }
  return result;
}
