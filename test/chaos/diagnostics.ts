/**
 * What a failed run needs for its analysis: where lagging clients stand, the
 * publications and connection timelines behind each problem, refusals by
 * fault, and the processes' own logs on disk.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { GatewayProcess } from '../support/gateway-process.js';
import type { FaultRecord } from './faults.js';
import { ranges, type Ledger, type PublishRecord, type SubscriptionVerdict } from './ledger.js';
import type { ChaosOptions } from './options.js';
import type { ChaosSubscriber } from './subscribers.js';

/** For each client-room behind its room's last offset: where it stands and what history would give it. */
export async function describeLagging(subscribers: readonly ChaosSubscriber[], targets: ReturnType<Ledger['targets']>): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const subscriber of subscribers) {
    for (const room of subscriber.rooms) {
      const target = targets.get(room);
      const position = subscriber.position(room);
      if (target === undefined || (position !== undefined && position.epoch === target.epoch && position.offset >= target.offset)) continue;
      let history: unknown = 'not asked';
      if (out.length < 20 && subscriber.isConnected && position !== undefined) {
        // Diagnosis only (the verdict is already decided by what was delivered): does history hold what is missing?
        history = await subscriber.client.history(room, { since: position, limit: 20 }).then(
          (page) => ({ epoch: page.epoch, offset: page.offset, recovered: page.recovered, offsets: ranges(page.messages.map((message) => message.offset)) }),
          (error: unknown) => `history failed: ${(error as Error).message}`,
        );
      }
      out.push({ client: subscriber.id, room, state: subscriber.client.state, node: subscriber.connectedNode, position, target, history });
    }
  }
  return out;
}

/** The problems with what is needed to analyse them: the client's timeline and, for lost offsets, their publications. */
export function describeProblems(problems: readonly SubscriptionVerdict[], ledger: Ledger, subscribers: readonly ChaosSubscriber[], faults: readonly FaultRecord[]): unknown[] {
  const byOffset = new Map<string, PublishRecord>();
  for (const record of ledger.publications.values()) {
    if (record.outcome === 'published') byOffset.set(`${record.room}|${record.epoch}|${record.offset}`, record);
  }
  const faultAt = (at: number | undefined): string | undefined => {
    if (at === undefined) return undefined;
    const fault = faults.find((candidate) => candidate.startedAt <= at && at <= (candidate.endedAt ?? Number.POSITIVE_INFINITY) + 3_000);
    return fault === undefined ? undefined : `${fault.kind} ${fault.target}`;
  };
  return problems.slice(0, 40).map((problem) => {
    const subscriber = subscribers.find((candidate) => candidate.id === problem.client);
    const log = ledger.subscriptions.get(`${problem.client}|${problem.room}`);
    const lostOffsets = expandRanges(problem.lost).slice(0, 10);
    const lostDetail = lostOffsets.map((offset) => {
      const record = byOffset.get(`${problem.room}|${problem.join?.epoch}|${offset}`);
      const before = log?.deliveries.filter((delivery) => delivery.offset < offset).at(-1);
      const after = log?.deliveries.find((delivery) => delivery.offset > offset);
      return {
        offset,
        key: record?.key,
        answeredAt: record?.answeredAt,
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
      unaccountedDetail,
      transport: subscriber?.transport,
      clientRooms: subscriber?.rooms,
      lostDetail,
      episodes: subscriber?.episodes,
      timeline: subscriber?.timeline.slice(-200),
      finalPosition: subscriber?.position(problem.room),
      gapsDuringFault: problem.gaps.map((gap) => ({ ...gap, duringFault: faultAt(gap.at) })),
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

function expandRanges(list: readonly string[]): number[] {
  const out: number[] = [];
  for (const item of list) {
    const range = item.includes(':') ? (item.split(':').pop() as string) : item;
    const [from, to] = range.split('-').map(Number);
    if (from === undefined || Number.isNaN(from)) continue;
    for (let offset = from; offset <= (to ?? from); offset += 1) out.push(offset);
  }
  return out;
}

/** Each gateway process's output (restarts included) and NGINX's logs, under <artifacts>/chaos-<profile>-logs/. */
export async function writeLogs(options: ChaosOptions, gateways: readonly GatewayProcess[], nginx: { error: string; access: string }): Promise<string> {
  const dir = join(options.artifactsDir, `chaos-${options.profile}-logs`);
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
