/**
 * What a failed run needs for its analysis: where lagging consumers stand, the
 * publications and connection timelines behind each problem, silent loss by
 * room and node, refusals by fault, and the processes' own logs on disk.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { GatewayProcess } from '../../tools/processes/gateway-process.js';
import type { ChaosConsumer, StreamTarget } from './consumers.js';
import type { FaultRecord } from './faults.js';
import { ranges, type Ledger, type PublishRecord, type SubscriptionVerdict } from './ledger.js';

/** For each consumer-room behind its room's last offset: where it stands and what history (HTTP API) would give it. */
export async function describeLagging(consumers: readonly ChaosConsumer[], targets: ReadonlyMap<string, StreamTarget>, api: { url: string; apiKey: string }): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const consumer of consumers) {
    for (const room of consumer.rooms()) {
      const target = targets.get(room);
      const position = consumer.position(room);
      if (target === undefined || (position !== undefined && position.epoch === target.epoch && position.offset >= target.offset)) continue;
      let history: unknown = 'not asked';
      if (out.length < 20 && position !== undefined) {
        // Diagnosis only (the verdict is already decided by what was delivered): does history hold what is missing?
        history = await readHistory(api, room, position).catch((error: unknown) => `history failed: ${(error as Error).message}`);
      }
      out.push({
        consumer: consumer.membership(room) ?? consumer.id,
        kind: consumer.kind,
        room,
        connected: consumer.isConnected,
        node: consumer.pinnedNode ?? consumer.connectedNode,
        position,
        target,
        history,
      });
    }
  }
  return out;
}

async function readHistory(api: { url: string; apiKey: string }, room: string, since: StreamTarget): Promise<unknown> {
  const query = new URLSearchParams({ since: `${since.epoch}:${since.offset}`, limit: '20' });
  const response = await fetch(`${api.url}/api/v1/rooms/${encodeURIComponent(room)}/history?${query.toString()}`, {
    headers: { authorization: `Bearer ${api.apiKey}` },
    signal: AbortSignal.timeout(3_000),
  });
  const body = (await response.json()) as { epoch?: string; offset?: number; recovered?: boolean; messages?: Array<{ offset: number }> };
  return { status: response.status, epoch: body.epoch, offset: body.offset, recovered: body.recovered, offsets: ranges((body.messages ?? []).map((message) => message.offset)) };
}

/** The node a consumer was on at `at` (ms after t=0), from its timeline: its pinned node, else its last `connected` before `at`. */
export function nodeAt(consumer: ChaosConsumer | undefined, at: number | undefined): string | undefined {
  if (consumer === undefined) return undefined;
  if (consumer.pinnedNode !== undefined) return consumer.pinnedNode;
  if (at === undefined) return undefined;
  let node: string | undefined;
  for (const entry of consumer.timeline) {
    if (entry.at > at) break;
    if (entry.event === 'connected') node = entry.node;
    else if (entry.event === 'disconnected' || entry.event === 'reconnecting') node = undefined;
  }
  return node;
}

function consumerOf(consumers: readonly ChaosConsumer[], membership: string): ChaosConsumer | undefined {
  const id = membership.split('#')[0];
  return consumers.find((candidate) => candidate.id === id);
}

/** `['3-5', 'e2:7']` with the join epoch -> [{ epoch, offset }]. */
function expandRanges(list: readonly string[], joinEpoch: string | undefined): Array<{ epoch: string | undefined; offset: number }> {
  const out: Array<{ epoch: string | undefined; offset: number }> = [];
  for (const item of list) {
    const colon = item.lastIndexOf(':');
    const epoch = colon < 0 ? joinEpoch : item.slice(0, colon);
    const range = colon < 0 ? item : item.slice(colon + 1);
    const [from, to] = range.split('-').map(Number);
    if (from === undefined || Number.isNaN(from)) continue;
    for (let offset = from; offset <= (to ?? from); offset += 1) out.push({ epoch, offset });
  }
  return out;
}

function publicationsByOffset(ledger: Ledger): Map<string, PublishRecord> {
  const byOffset = new Map<string, PublishRecord>();
  for (const record of ledger.publications.values()) {
    if (record.outcome === 'published') byOffset.set(`${record.room}|${record.epoch}|${record.offset}`, record);
  }
  return byOffset;
}

export interface LossSummary {
  /** Silently lost deliveries by the node the consumer was on when the publication was answered. */
  byConsumerNode: Record<string, number>;
  /** ... by the node that published them (the answering attempt's node). */
  byPublishingNode: Record<string, number>;
  byRoom: Record<string, number>;
  /** ... by consumer kind (sdk, sse) and pinned (churn) or not. */
  byKind: Record<string, number>;
  /** One line per membership that lost something: `<membership> <room> (<kind> on <node>): lost <ranges>`. */
  lines: string[];
}

/** Where silent loss happened: by room, by the consumer's node, by the publishing node, by consumer kind. */
export function summarizeLoss(problems: readonly SubscriptionVerdict[], ledger: Ledger, consumers: readonly ChaosConsumer[]): LossSummary {
  const summary: LossSummary = { byConsumerNode: {}, byPublishingNode: {}, byRoom: {}, byKind: {}, lines: [] };
  const byOffset = publicationsByOffset(ledger);
  const add = (record: Record<string, number>, key: string): void => {
    record[key] = (record[key] ?? 0) + 1;
  };
  for (const problem of problems) {
    if (problem.lostCount === 0) continue;
    const consumer = consumerOf(consumers, problem.client);
    const nodes = new Set<string>();
    for (const { epoch, offset } of expandRanges(problem.lost, problem.join?.epoch)) {
      const record = byOffset.get(`${problem.room}|${epoch}|${offset}`);
      const node = nodeAt(consumer, record?.answeredAt) ?? (problem.node === undefined ? 'unknown (via nginx)' : problem.node);
      nodes.add(node);
      add(summary.byConsumerNode, node);
      add(summary.byPublishingNode, record?.attempts.find((attempt) => attempt.result === 'ok')?.node ?? '?');
      add(summary.byRoom, problem.room);
      add(summary.byKind, `${problem.kind}${problem.node === undefined ? '' : ' pinned'}`);
    }
    summary.lines.push(`${problem.client} ${problem.room} (${problem.kind} on ${[...nodes].join('/')}${problem.end === null ? '' : `, ended ${problem.end.reason} at ${(problem.end.at / 1000).toFixed(1)} s`}): lost ${problem.lost.join(',')} of ${problem.expected}`);
  }
  return summary;
}

/** The problems with what is needed to analyse them: the consumer's timeline and, for lost offsets, their publications. */
export function describeProblems(problems: readonly SubscriptionVerdict[], ledger: Ledger, consumers: readonly ChaosConsumer[], faults: readonly FaultRecord[]): unknown[] {
  const byOffset = publicationsByOffset(ledger);
  const faultAt = (at: number | undefined): string | undefined => {
    if (at === undefined) return undefined;
    const fault = faults.find((candidate) => candidate.startedAt <= at && at <= (candidate.endedAt ?? Number.POSITIVE_INFINITY) + 3_000);
    return fault === undefined ? undefined : `${fault.kind} ${fault.target}`;
  };
  // Silent loss first: it is what fails a run most.
  const ordered = [...problems].sort((a, b) => b.lostCount - a.lostCount || b.unaccounted.length - a.unaccounted.length);
  return ordered.slice(0, 40).map((problem) => {
    const consumer = consumerOf(consumers, problem.client);
    const log = ledger.subscriptions.get(`${problem.client}|${problem.room}`);
    const lostDetail = expandRanges(problem.lost, problem.join?.epoch)
      .slice(0, 10)
      .map(({ epoch, offset }) => {
        const record = byOffset.get(`${problem.room}|${epoch}|${offset}`);
        const before = log?.deliveries.filter((delivery) => delivery.epoch === epoch && delivery.offset < offset).at(-1);
        const after = log?.deliveries.find((delivery) => delivery.epoch === epoch && delivery.offset > offset);
        return {
          epoch,
          offset,
          key: record?.key,
          answeredAt: record?.answeredAt,
          consumerNodeThen: nodeAt(consumer, record?.answeredAt),
          duringFault: faultAt(record?.answeredAt),
          attempts: record?.attempts,
          deliveredBefore: before,
          deliveredAfter: after,
        };
      });
    const unaccountedDetail = problem.unaccounted.slice(0, 10).map((item) => {
      const record = item.key === null ? undefined : ledger.publications.get(item.key);
      return { ...item, publication: record, duringFault: faultAt(record?.attempts.at(-1)?.at) };
    });
    return {
      ...problem,
      gaps: problem.gaps.slice(0, 20),
      unaccounted: problem.unaccounted.slice(0, 20),
      duplicated: problem.duplicated.slice(0, 20),
      reordered: problem.reordered.slice(0, 20),
      unaccountedDetail,
      transport: consumer?.transport,
      consumerRooms: consumer?.rooms(),
      lostDetail,
      episodes: consumer?.episodes,
      timeline: consumer?.timeline.slice(-200),
      finalPosition: consumer?.position(problem.room),
      gapsDuringFault: problem.gaps.slice(0, 20).map((gap) => ({ ...gap, duringFault: faultAt(gap.at) })),
    };
  });
}

export function refusedBreakdown(ledger: Ledger, faults: readonly FaultRecord[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const record of ledger.publications.values()) {
    if (record.outcome !== 'refused' || record.refusal === undefined) continue;
    const at = record.attempts.at(-1)?.at ?? record.sentAt;
    const fault = faults.find((candidate) => candidate.startedAt <= at && at <= (candidate.endedAt ?? Number.POSITIVE_INFINITY));
    const why = `${record.refusal.status} ${record.refusal.code} ${fault === undefined ? 'outside faults' : `during ${fault.kind}`}`;
    out[why] = (out[why] ?? 0) + 1;
  }
  return out;
}

/** Each gateway process's output (restarts included) and NGINX's logs, under <artifacts>/<run name>-logs/. */
export async function writeLogs(artifactsDir: string, name: string, gateways: readonly GatewayProcess[], nginx: { error: string; access: string }): Promise<string> {
  const dir = join(artifactsDir, `${name}-logs`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  for (const gateway of gateways) {
    const { stdout, stderr } = gateway.output();
    await writeFile(join(dir, `${gateway.nodeId}-pid${gateway.pid}.log`), `${stdout}${stderr === '' ? '' : `\n--- stderr ---\n${stderr}`}`);
  }
  await writeFile(join(dir, 'nginx-error.log'), nginx.error);
  await writeFile(join(dir, 'nginx-access.log'), nginx.access);
  return dir;
}
