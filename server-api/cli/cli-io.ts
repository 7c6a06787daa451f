/**
 * What every command of the `roomcast` CLI shares: its input and output (passed in,
 * so a command is a function of its arguments and environment), the exit codes,
 * flag parsing with node:util parseArgs, and the gateway connection flags.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { RoomcastApi } from '../roomcast-api.js';

export interface CliIo {
  env: NodeJS.ProcessEnv;
  out: (line: string) => void;
  err: (line: string) => void;
}

/** 0: done; 1: the gateway (or a check) refused; 2: the command line is wrong. */
export const EXIT = { ok: 0, refused: 1, usage: 2 } as const;

/** A mistake in the command line: the command's usage is printed and the CLI exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

type Options = NonNullable<ParseArgsConfig['options']>;

const HELP_FLAG = { help: { type: 'boolean', short: 'h' } } as const;

type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O & typeof HELP_FLAG; strict: true; allowPositionals: false }>>;

/** Parses `argv` strictly (an unknown flag or a missing value is a UsageError); `--help` is always known. */
export function parseFlags<O extends Options>(argv: string[], options: O): Parsed<O> {
  try {
    return parseArgs({ args: argv, options: { ...options, ...HELP_FLAG }, strict: true, allowPositionals: false });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** The flags of the commands that call the gateway's API. */
export const GATEWAY_FLAGS = {
  url: { type: 'string' },
  'api-key': { type: 'string' },
  'timeout-ms': { type: 'string' },
  retries: { type: 'string' },
} as const satisfies Options;

export const GATEWAY_HELP = `Gateway:
  --url URL           the gateway (default $ROOMCAST_URL)
  --api-key KEY       one of its API_KEYS (default $ROOMCAST_API_KEY)
  --timeout-ms N      per attempt (default 10000)
  --retries N         retries of what may succeed later (default 3)`;

export function apiFrom(values: { url?: string; 'api-key'?: string; 'timeout-ms'?: string; retries?: string }, env: NodeJS.ProcessEnv): RoomcastApi {
  const url = values.url ?? env.ROOMCAST_URL;
  const apiKey = values['api-key'] ?? env.ROOMCAST_API_KEY;
  if (url === undefined || url === '') throw new UsageError('the gateway URL is missing: --url or ROOMCAST_URL');
  if (apiKey === undefined || apiKey === '') throw new UsageError('the API key is missing: --api-key or ROOMCAST_API_KEY');
  if (!/^https?:\/\//.test(url)) throw new UsageError(`--url must be an http(s) URL, not ${url}`);
  return new RoomcastApi({
    url,
    apiKey,
    ...(values['timeout-ms'] === undefined ? {} : { timeoutMs: integerFlag('timeout-ms', values['timeout-ms'], 1) }),
    ...(values.retries === undefined ? {} : { retries: integerFlag('retries', values.retries, 0) }),
  });
}

export function integerFlag(name: string, value: string, min: number): number {
  const number = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(number) || number < min) throw new UsageError(`--${name} must be a whole number >= ${min}, not ${value}`);
  return number;
}

/** A list flag, given once with commas (`--rooms a,b`) or repeated (`--rooms a --rooms b`). */
export function listFlag(values: string[] | undefined): string[] | undefined {
  if (values === undefined) return undefined;
  return values.flatMap((value) => value.split(',')).map((entry) => entry.trim()).filter((entry) => entry !== '');
}

export function json(value: unknown): string {
  return JSON.stringify(value);
}
