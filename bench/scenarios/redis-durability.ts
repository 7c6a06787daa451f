/**
 * 8. What REDIS_DURABILITY=lossy costs Redis: the append and read scripts then
 * call `INFO server` to learn which Redis process they run in (a room written by
 * another process starts a new epoch, see server/backends/redis/history-scripts.ts).
 * Each run appends N publications into 100 rooms and reads N positions, 64 in
 * flight, through the gateway's own RedisHistoryStore, lossy and lossless in
 * turn on a fresh redis-server, and reads Redis's own CPU (INFO cpu) before and
 * after: Redis CPU per append and per read, medians over the runs, and the
 * lossy/lossless ratio.
 *
 *   npm run bench:durability -- [--runs 3] [--operations 20000] [--smoke]
 */
import { RedisHistoryStore, type RedisDurability } from '../../server/backends/redis/history.js';
import { connectTestRedis, type TestRedisClient } from '../../tools/processes/redis-client.js';
import { startRedis } from '../../tools/processes/redis-server.js';
import { machineLine, ratio, ratioText, table } from '../lib/harness.js';
import { medianOf, runScenario } from '../lib/scenario-runner.js';

const ROOMS = 100;
const IN_FLIGHT = 64;
const MODES: readonly RedisDurability[] = ['lossy', 'lossless'];

interface Options {
  runs: number;
  operations: number;
  smoke: boolean;
}

interface Sample {
  mode: RedisDurability;
  appendUs: number;
  readUs: number;
}

async function redisCpuSeconds(client: TestRedisClient): Promise<number> {
  const info = String(await client.sendCommand(['INFO', 'cpu']));
  const field = (name: string): number => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? Number.NaN);
  return field('used_cpu_user') + field('used_cpu_sys');
}

/** Runs `count` calls of `call`, IN_FLIGHT at a time. */
async function inFlight(count: number, call: (index: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      for (let index = next++; index < count; index = next++) await call(index);
    }),
  );
}

async function measure(client: TestRedisClient, durability: RedisDurability, operations: number): Promise<Sample> {
  await client.flushAll();
  const store = new RedisHistoryStore(client.commands, { size: 1000, ttlSeconds: 3600, durability });
  const start = await redisCpuSeconds(client);
  await inFlight(operations, (index) => store.append('/', `room${index % ROOMS}`, { event: 'e', data: { index }, ts: Date.now() }));
  const appended = await redisCpuSeconds(client);
  await inFlight(operations, (index) => store.position('/', `room${index % ROOMS}`));
  const read = await redisCpuSeconds(client);
  return { mode: durability, appendUs: ((appended - start) / operations) * 1e6, readUs: ((read - appended) / operations) * 1e6 };
}

runScenario({
  name: 'redis-durability',
  options: ({ number, smoke }): Options => ({ runs: number('runs', smoke ? 1 : 3), operations: number('operations', smoke ? 500 : 20_000), smoke }),
  timeLimitMs: () => 10 * 60_000,
  command: ({ runs, operations, smoke }) => `npm run bench:durability -- --runs ${runs} --operations ${operations}${smoke ? ' --smoke' : ''}`,
  // One redis-server for every round; each round starts from FLUSHALL.
  setup: async () => {
    const redis = await startRedis();
    const client = await connectTestRedis(redis.url);
    return {
      client,
      close: async () => {
        await client.close();
        await redis.stop();
      },
    };
  },
  // Alternating, so a noisy moment of the shared machine falls on both modes alike.
  units: () => MODES,
  run: (mode, { options, shared }) => measure(shared.client, mode, options.operations),
  report: (results, { options: { runs, operations }, command }) => {
    const samples = Object.fromEntries(MODES.map((mode) => [mode, results.filter((r) => r.mode === mode).map(({ appendUs, readUs }) => ({ appendUs, readUs }))]));
    const summary = MODES.map((mode) => {
      const mine = results.filter((sample) => sample.mode === mode);
      return { mode, appendUs: medianOf(mine, (sample) => sample.appendUs, 1), readUs: medianOf(mine, (sample) => sample.readUs, 1) };
    });
    const [lossy, lossless] = summary as [(typeof summary)[number], (typeof summary)[number]];
    const ratios = { append: ratio(lossy.appendUs, lossless.appendUs), read: ratio(lossy.readUs, lossless.readUs) };
    const summaryMarkdown = [
      `# REDIS_DURABILITY: Redis CPU per history call`,
      '',
      `${machineLine()}. \`${command}\`: ${operations} appends into ${ROOMS} rooms then ${operations} position reads, ${IN_FLIGHT} in flight, medians of ${runs} run(s), Redis CPU from INFO cpu.`,
      '',
      table(
        ['durability', 'Redis CPU per append (µs)', 'Redis CPU per read (µs)'],
        summary.map((row) => [row.mode, row.appendUs, row.readUs]),
      ),
      '',
      `lossy / lossless: append ${ratioText(lossy.appendUs, lossless.appendUs, { baseline: 'lossless' })}, read ${ratioText(lossy.readUs, lossless.readUs, { baseline: 'lossless' })} (the INFO call each script makes under lossy).`,
    ].join('\n');
    return {
      markdown: `${summaryMarkdown}\n`,
      json: { options: { runs, operations, rooms: ROOMS, inFlight: IN_FLIGHT }, samples, summary, ratios, summaryMarkdown, charts: [] },
    };
  },
});
