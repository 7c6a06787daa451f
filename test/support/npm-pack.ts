/**
 * A workspace package as an app gets it: `npm pack` of the workspace (its
 * prepack script builds it, as on publish), installed from the tarball into a
 * fresh app directory, and commands run there. Shared by the tests of the
 * packages (server-api-package, client-readme-walkthrough).
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root (this file runs from dist/test/support/). */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end (at most `timeoutMs`); never rejects: the exit code says how it went. */
export function run(command: string, args: string[], cwd: string, env: Record<string, string> = {}, timeoutMs = 170_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
    });
  });
}

/** Runs a command that must succeed; resolves with its stdout (the assertion shows its output otherwise). */
export async function ok(command: string, args: string[], cwd: string, env: Record<string, string> = {}, timeoutMs?: number): Promise<string> {
  const result = await run(command, args, cwd, env, timeoutMs);
  expect(result.code, `${command} ${args.join(' ')}\n${result.stderr}\n${result.stdout}`).to.equal(0);
  return result.stdout;
}

export interface Packed {
  /** The tarball's path. */
  tarball: string;
  /** The paths inside the package, as npm pack lists them. */
  files: string[];
}

/** `npm pack` of the workspace at `workspace` (a directory of ROOT, e.g. 'client') into `destination`. */
export async function packWorkspace(workspace: string, destination: string): Promise<Packed> {
  const packed = JSON.parse(await ok('npm', ['pack', '--json', '--pack-destination', destination], join(ROOT, workspace))) as Array<{ filename: string; files: Array<{ path: string }> }>;
  const first = packed[0];
  if (first === undefined) throw new Error(`npm pack of ${workspace} listed no package`);
  return { tarball: join(destination, first.filename), files: first.files.map((file) => file.path) };
}

/** A fresh ESM app at `dir` with the given tarballs (or other install specs) installed from them. */
export async function installApp(dir: string, packages: string[], name = 'test-app'): Promise<string> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name, private: true, type: 'module' }));
  await ok('npm', ['install', '--no-audit', '--no-fund', ...packages], dir);
  return dir;
}
