/**
 * Reading deploy/: YAML (merge keys on, as docker compose reads them), the
 * Kubernetes objects, the compose services, the Dockerfile's stages and COPY
 * lines. Shared by the tests under test/deploy/; nothing here needs Docker or a
 * Kubernetes cluster.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

/** dist/test/deploy/ -> the repository root. */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const DEPLOY = join(ROOT, 'deploy');

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type Obj = { [key: string]: Json };

export function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

export const read = (path: string): string => readFileSync(path, 'utf8');
export const rel = (path: string): string => relative(ROOT, path);

/** Every document of a YAML file (YAML merge keys on, as docker compose reads them); throws naming the file on any error. */
export function parseYaml(path: string): Json[] {
  return parseAllDocuments(read(path), { merge: true }).map((doc, index) => {
    if (doc.errors.length > 0) throw new Error(`${rel(path)} (document ${index + 1}): ${doc.errors.map((e) => e.message).join('; ')}`);
    return doc.toJS() as Json;
  });
}

export function asObj(value: Json | undefined, what: string): Obj {
  if (value === null || value === undefined || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${what}: expected an object`);
  return value;
}
export function asArr(value: Json | undefined): Json[] {
  return Array.isArray(value) ? value : [];
}

/** Every Kubernetes object under deploy/kubernetes. */
export function kubernetesObjects(): Obj[] {
  return filesUnder(join(DEPLOY, 'kubernetes'))
    .filter((path) => /\.ya?ml$/.test(path))
    .flatMap((path) => parseYaml(path))
    .filter((doc): doc is Obj => doc !== null && typeof doc === 'object' && !Array.isArray(doc) && typeof doc.kind === 'string' && doc.kind !== 'Kustomization');
}

export const nameOf = (object: Obj): string => asObj(object.metadata, 'metadata').name as string;

/** Deployments and StatefulSets, with their pod spec and pod labels. */
export function workloads(objects: Obj[] = kubernetesObjects()): Array<{ name: string; kind: string; podSpec: Obj; labels: Record<string, string> }> {
  return objects
    .filter((o) => ['Deployment', 'StatefulSet', 'DaemonSet'].includes(o.kind as string))
    .map((o) => {
      const template = asObj(asObj(o.spec, `${nameOf(o)} spec`).template, `${nameOf(o)} template`);
      return {
        name: nameOf(o),
        kind: o.kind as string,
        podSpec: asObj(template.spec, `${nameOf(o)} pod spec`),
        labels: asObj(asObj(template.metadata, 'template metadata').labels, 'labels') as Record<string, string>,
      };
    });
}

/** The one ConfigMap that holds an nginx.conf, and that text. */
export function kubernetesNginxConf(objects: Obj[] = kubernetesObjects()): string {
  const nginx = objects.find((o) => o.kind === 'ConfigMap' && typeof asObj(o.data ?? {}, 'data')['nginx.conf'] === 'string') as Obj;
  return asObj(nginx.data, 'data')['nginx.conf'] as string;
}

/** compose.yaml's services. */
export function composeServices(): Record<string, Obj> {
  const compose = asObj(parseYaml(join(DEPLOY, 'compose', 'compose.yaml'))[0], 'compose.yaml');
  return Object.fromEntries(Object.entries(asObj(compose.services, 'services')).map(([name, service]) => [name, asObj(service, name)]));
}

/** Compose's `${NAME}`, `${NAME:?message}` and `${NAME:-default}` references to `name`, replaced by `value`. */
export function interpolate(text: string, name: string, value: string): string {
  return text.replace(new RegExp(`\\$\\{${name}(?::?[?-][^}]*)?\\}`, 'g'), value);
}

export interface DockerStage {
  name: string | null;
  workdir: string;
  /** Instructions of the stage, one per logical line (continuations joined). */
  instructions: Array<{ keyword: string; args: string }>;
}

/** The Dockerfile's stages, in order, with their WORKDIR (the last one set) and instructions. */
export function dockerStages(text: string): DockerStage[] {
  const logical = text
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const stages: DockerStage[] = [];
  for (const line of logical) {
    const match = /^(\w+)\s+(.*)$/.exec(line);
    if (match === null) continue;
    const keyword = (match[1] as string).toUpperCase();
    const args = match[2] as string;
    if (keyword === 'FROM') {
      stages.push({ name: /\sAS\s+(\S+)$/i.exec(args)?.[1] ?? null, workdir: '/', instructions: [] });
      continue;
    }
    const stage = stages[stages.length - 1];
    if (stage === undefined) continue;
    if (keyword === 'WORKDIR') stage.workdir = args.startsWith('/') ? args : `${stage.workdir.replace(/\/$/, '')}/${args}`;
    stage.instructions.push({ keyword, args });
  }
  return stages;
}

export interface CopyLine {
  /** The stage copied from, or null for the build context. */
  from: string | null;
  sources: string[];
  /** Absolute path in the image. */
  destination: string;
}

/** A stage's COPY lines (shell form), destinations made absolute against the WORKDIR in force. */
export function copyLines(stage: DockerStage): CopyLine[] {
  let workdir = '/';
  const copies: CopyLine[] = [];
  for (const { keyword, args } of stage.instructions) {
    if (keyword === 'WORKDIR') workdir = args.startsWith('/') ? args : `${workdir.replace(/\/$/, '')}/${args}`;
    if (keyword !== 'COPY') continue;
    const words = args.split(/\s+/);
    const flags = words.filter((word) => word.startsWith('--'));
    const paths = words.filter((word) => !word.startsWith('--'));
    const from = flags.find((flag) => flag.startsWith('--from='))?.slice('--from='.length) ?? null;
    const target = paths[paths.length - 1] as string;
    const destination = target.startsWith('/') ? target : `${workdir.replace(/\/$/, '')}/${target.replace(/^\.\/?/, '')}`;
    copies.push({ from, sources: paths.slice(0, -1), destination });
  }
  return copies;
}
