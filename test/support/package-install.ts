/**
 * A workspace package as an app gets it: `npm pack` of the workspace (its prepack
 * builds it) into a temporary directory, and the tarball installed with npm into a
 * fresh app there, its dependencies coming from the npm cache or registry as for
 * any app. Used by the tests of @roomcast/server-api and @roomcast/client.
 */
import { expect } from 'chai';
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file runs from dist/test/support/). */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end; never throws (the exit code says how it went). */
export function run(command: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env: { ...process.env, ...env }, timeout: 170_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
    });
  });
}

/** Runs a command that must succeed; its stdout. */
export async function ok(command: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<string> {
  const result = await run(command, args, cwd, env);
  expect(result.code, `${command} ${args.join(' ')}\n${result.stderr}\n${result.stdout}`).to.equal(0);
  return result.stdout;
}

export interface InstalledPackage {
  /** The temporary directory holding the tarball and the app; removed by close(). */
  dir: string;
  /** The app directory: its package.json, and the package in its node_modules. */
  app: string;
  /** Path of the tarball npm pack wrote. */
  tarball: string;
  /** The paths inside the tarball (package/ stripped), as npm pack lists them. */
  files: string[];
  /** The tarball's size and the unpacked size, in bytes. */
  packedBytes: number;
  unpackedBytes: number;
  close(): Promise<void>;
}

interface PackJson {
  filename: string;
  size: number;
  unpackedSize: number;
  files: Array<{ path: string }>;
}

/**
 * Packs the workspace `workspace` (a folder of the repository root) and installs the
 * tarball into a new app whose package.json is `appPackage`.
 */
export async function packAndInstall(workspace: string, appPackage: Record<string, unknown>): Promise<InstalledPackage> {
  const dir = await mkdtemp(join(tmpdir(), `roomcast-${workspace}-`));
  const app = join(dir, 'app');
  try {
    const [packed] = JSON.parse(await ok('npm', ['pack', '--json', '--pack-destination', dir], join(ROOT, workspace))) as PackJson[];
    if (packed === undefined) throw new Error(`npm pack of ${workspace} listed no package`);
    const tarball = join(dir, packed.filename);
    await mkdir(app);
    await writeFile(join(app, 'package.json'), JSON.stringify({ private: true, ...appPackage }));
    // --prefer-offline: dependencies from the npm cache when it has them (the registry otherwise).
    await ok('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], app);
    return {
      dir,
      app,
      tarball,
      files: packed.files.map((file) => file.path),
      packedBytes: packed.size,
      unpackedBytes: packed.unpackedSize,
      close: () => rm(dir, { recursive: true, force: true }),
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** The names of every package installed in `app` (from the lockfile npm wrote), the app's own dependencies included. */
export async function installedPackageNames(app: string): Promise<string[]> {
  const lock = JSON.parse(await readFile(join(app, 'package-lock.json'), 'utf8')) as { packages: Record<string, { name?: string }> };
  return Object.keys(lock.packages)
    .filter((path) => path !== '')
    .map((path) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length))
    .sort();
}

export interface AppProcess {
  /** Every line the process printed on stdout so far. */
  lines: string[];
  /** Resolves with the exit code when it ends. */
  exited: Promise<number | null>;
  stderr(): string;
  kill(): void;
}

/** Starts `node <args>` in `cwd`, collecting its stdout line by line. */
export function startNode(args: string[], cwd: string, env: Record<string, string> = {}): AppProcess {
  const child = spawn(process.execPath, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let pending = '';
  let errors = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (pending + chunk).split('\n');
    pending = parts.pop() ?? '';
    lines.push(...parts);
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => void (errors += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { lines, exited, stderr: () => errors, kill: () => void child.kill('SIGKILL') };
}
