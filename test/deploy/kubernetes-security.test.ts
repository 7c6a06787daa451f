/**
 * deploy/kubernetes, as an attacker on the cluster network or in a compromised
 * pod would meet it: every pod unprivileged (non-root, read-only root
 * filesystem, no capabilities, no privilege escalation, no service account
 * token); NetworkPolicies that let only the gateways reach Redis and only NGINX
 * and the Prometheus scraper reach the gateways; Redis behind an ACL whose
 * password comes from a Secret; and the hand-written NGINX config keeping the
 * generator's public-listener rules, checked by reading it and by running it
 * (adapted to this machine) in front of a real gateway.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { renderNginxConfig } from '../../nginx/generate-config.js';
import { freePort } from '../../tools/processes/free-port.js';
import { startGatewayProcess, type GatewayProcess } from '../../tools/processes/gateway-process.js';
import { startNginx, type NginxProcess } from '../../tools/processes/nginx.js';
import { signToken, TEST_JWT_SECRET } from '../../tools/processes/tokens.js';
import { asArr, asObj, DEPLOY, kubernetesNginxConf, kubernetesObjects, nameOf, read, workloads, type Json, type Obj } from './deploy-reader.js';

const objects = kubernetesObjects();

function matchLabels(selector: Json | undefined, what: string): Record<string, string> {
  const object = asObj(selector ?? {}, what);
  if (object.matchExpressions !== undefined) throw new Error(`${what}: matchExpressions are not evaluated by this test; use matchLabels`);
  return asObj(object.matchLabels ?? {}, `${what} matchLabels`) as Record<string, string>;
}

const selects = (selector: Record<string, string>, labels: Record<string, string>): boolean => Object.entries(selector).every(([key, value]) => labels[key] === value);

interface Peer {
  /** Workloads of this namespace the peer selects (podSelector only). */
  pods: string[] | null;
  /** A peer in other namespaces: its namespace and pod selectors. */
  external: { namespace: Record<string, string>; pod: Record<string, string> } | null;
  ipBlock: boolean;
}

interface Admission {
  policies: string[];
  /** One entry per ingress rule: who (null: anyone) on which ports. */
  rules: Array<{ peers: Peer[] | null; ports: number[] }>;
}

/** What the NetworkPolicies of the namespace let into the pods of a workload. */
function admittedInto(workload: string): Admission {
  const all = workloads(objects);
  const target = all.find((w) => w.name === workload);
  if (target === undefined) throw new Error(`no workload ${workload}`);
  const policies = objects.filter((o) => o.kind === 'NetworkPolicy');
  const applying = policies.filter((policy) => {
    const spec = asObj(policy.spec, 'spec');
    const types = asArr(spec.policyTypes);
    return selects(matchLabels(spec.podSelector, `${nameOf(policy)} podSelector`), target.labels) && (types.includes('Ingress') || spec.ingress !== undefined);
  });
  const rules = applying.flatMap((policy) =>
    asArr(asObj(policy.spec, 'spec').ingress).map((rule) => {
      const { from, ports } = asObj(rule, 'ingress rule');
      const peers =
        from === undefined || asArr(from).length === 0
          ? null
          : asArr(from).map((entry): Peer => {
              const peer = asObj(entry, 'peer');
              if (peer.ipBlock !== undefined) return { pods: null, external: null, ipBlock: true };
              const pod = matchLabels(peer.podSelector, 'podSelector');
              if (peer.namespaceSelector !== undefined) return { pods: null, external: { namespace: matchLabels(peer.namespaceSelector, 'namespaceSelector'), pod }, ipBlock: false };
              return { pods: all.filter((w) => selects(pod, w.labels)).map((w) => w.name), external: null, ipBlock: false };
            });
      return { peers, ports: asArr(ports).map((port) => Number(asObj(port, 'port').port)) };
    }),
  );
  return { policies: applying.map(nameOf), rules };
}

describe('deploy/kubernetes security', function () {
  this.timeout(60_000);

  it('every pod runs unprivileged: non-root, read-only root filesystem, no capabilities, no privilege escalation, RuntimeDefault seccomp, no service account token', () => {
    const all = workloads(objects);
    expect(all.map((w) => w.name).sort()).to.deep.equal(['redis', 'roomcast', 'roomcast-nginx']);
    for (const { name, podSpec } of all) {
      expect(podSpec.automountServiceAccountToken, `${name} automountServiceAccountToken`).to.equal(false);
      expect(podSpec.hostNetwork ?? false, `${name} hostNetwork`).to.equal(false);
      const pod = asObj(podSpec.securityContext ?? {}, `${name} securityContext`);
      for (const entry of [...asArr(podSpec.initContainers), ...asArr(podSpec.containers)]) {
        const container = asObj(entry, `${name} container`);
        const where = `${name}/${container.name as string}`;
        const own = asObj(container.securityContext ?? {}, `${where} securityContext`);
        expect(own.runAsNonRoot ?? pod.runAsNonRoot, `${where} runAsNonRoot`).to.equal(true);
        expect(own.runAsUser ?? pod.runAsUser, `${where} runAsUser`).to.be.a('number').and.not.equal(0);
        expect(asObj(own.seccompProfile ?? pod.seccompProfile ?? {}, 'seccompProfile').type, `${where} seccomp`).to.equal('RuntimeDefault');
        expect(own.allowPrivilegeEscalation, `${where} allowPrivilegeEscalation`).to.equal(false);
        expect(own.readOnlyRootFilesystem, `${where} readOnlyRootFilesystem`).to.equal(true);
        expect(own.privileged ?? false, `${where} privileged`).to.equal(false);
        const capabilities = asObj(own.capabilities ?? {}, 'capabilities');
        expect(asArr(capabilities.drop), `${where} drops every capability`).to.include('ALL');
        expect(asArr(capabilities.add), `${where} adds none back`).to.deep.equal([]);
      }
    }
  });

  it('NGINX can write where its config says (pid, temp paths) on a read-only root: emptyDir mounts, and no `user` directive for a non-root master', () => {
    const conf = kubernetesNginxConf(objects);
    const nginx = workloads(objects).find((w) => w.name === 'roomcast-nginx')?.podSpec as Obj;
    const container = asObj(asArr(nginx.containers)[0], 'nginx container');
    const emptyDirs = new Set(asArr(nginx.volumes).map((v) => asObj(v, 'volume')).filter((v) => v.emptyDir !== undefined).map((v) => v.name as string));
    const writable = asArr(container.volumeMounts)
      .map((m) => asObj(m, 'mount'))
      .filter((m) => emptyDirs.has(m.name as string))
      .map((m) => m.mountPath as string);
    const paths = [...conf.matchAll(/^\s*(?:pid|client_body_temp_path|proxy_temp_path|fastcgi_temp_path|uwsgi_temp_path|scgi_temp_path)\s+(\S+);/gm)].map((m) => m[1] as string);
    expect(paths, 'pid file and all five temp paths set').to.have.length(6);
    for (const path of paths) expect(writable.some((dir) => path.startsWith(`${dir}/`)), `${path} on an emptyDir (${writable.join(', ')})`).to.equal(true);
    expect(conf).not.to.match(/^\s*user\s/m);
  });

  it('NetworkPolicies: ingress denied by default; Redis only from the gateways; the gateways only from NGINX and the scraper; NGINX on 8080', () => {
    const policies = objects.filter((o) => o.kind === 'NetworkPolicy');
    expect(
      policies.some((p) => {
        const spec = asObj(p.spec, 'spec');
        return Object.keys(matchLabels(spec.podSelector, 'podSelector')).length === 0 && asArr(spec.policyTypes).includes('Ingress') && asArr(spec.ingress).length === 0;
      }),
      'a default-deny ingress policy for every pod of the namespace',
    ).to.equal(true);
    for (const o of policies) expect(asObj(o.metadata, 'metadata').namespace, nameOf(o)).to.equal('roomcast');

    const redis = admittedInto('redis');
    expect(redis.rules.length, 'Redis admits someone').to.be.greaterThan(0);
    for (const rule of redis.rules) {
      expect(rule.peers, 'Redis: never from anyone').not.to.equal(null);
      for (const peer of rule.peers ?? []) {
        expect(peer.ipBlock || peer.external !== null, 'Redis: no ipBlock, no other namespace').to.equal(false);
        expect(peer.pods, 'Redis: the gateway pods only').to.deep.equal(['roomcast']);
      }
      expect(rule.ports).to.deep.equal([6379]);
    }

    const gateways = admittedInto('roomcast');
    const seen = { nginx: false, scraper: false };
    for (const rule of gateways.rules) {
      expect(rule.peers, 'gateways: never from anyone').not.to.equal(null);
      expect(rule.ports).to.deep.equal([3000]);
      for (const peer of rule.peers ?? []) {
        expect(peer.ipBlock, 'gateways: no ipBlock').to.equal(false);
        if (peer.external !== null) {
          // The scraper: both selectors in one peer (a namespaceSelector alone would admit every pod there).
          expect(Object.keys(peer.external.namespace), 'scraper namespace').to.have.length.greaterThan(0);
          expect(Object.keys(peer.external.pod), 'scraper pods').to.have.length.greaterThan(0);
          seen.scraper = true;
        } else {
          expect(peer.pods, 'gateways: from NGINX').to.deep.equal(['roomcast-nginx']);
          seen.nginx = true;
        }
      }
    }
    expect(seen).to.deep.equal({ nginx: true, scraper: true });

    const nginx = admittedInto('roomcast-nginx');
    expect(nginx.rules.flatMap((rule) => rule.ports)).to.deep.equal([8080]);
    // The scraper's port is the one the pods' annotations name.
    const gatewayPod = asObj(asObj(asObj(objects.find((o) => o.kind === 'StatefulSet' && nameOf(o) === 'roomcast')?.spec, 'spec').template, 'template').metadata, 'metadata');
    expect(asObj(gatewayPod.annotations, 'annotations')['prometheus.io/port']).to.equal('3000');
  });

  it('Redis: the default user may only PING, the gateways\' ACL user has a password from a Secret, and no ConfigMap holds a Redis URL', () => {
    const redis = workloads(objects).find((w) => w.name === 'redis')?.podSpec as Obj;
    const container = asObj(asArr(redis.containers)[0], 'redis container');
    const args = asArr(container.args).map(String);
    const users = aclUsers(args);
    expect(Object.keys(users).sort()).to.deep.equal(['default', 'roomcast']);
    expect(users.default, 'default user').to.satisfy((rules: string[]) => rules.includes('off') || (rules.includes('reset') && rules.filter((r) => /^[+~&%]/.test(r)).join(' ') === '+ping'));
    expect(users.roomcast).to.include.members(['on', '>$(REDIS_PASSWORD)', '-@dangerous']);
    expect(users.roomcast).not.to.include('nopass');
    const passwordEnv = asArr(container.env).map((e) => asObj(e, 'env')).find((e) => e.name === 'REDIS_PASSWORD');
    expect(asObj(asObj(passwordEnv?.valueFrom, 'valueFrom').secretKeyRef, 'secretKeyRef')).to.deep.include({ name: 'roomcast-redis' });

    for (const map of objects.filter((o) => o.kind === 'ConfigMap' && nameOf(o) !== 'roomcast-nginx')) {
      const data = asObj(map.data ?? {}, 'data');
      expect(data.REDIS_URL, `${nameOf(map)}: REDIS_URL carries the password, so it lives in a Secret`).to.equal(undefined);
      for (const [key, value] of Object.entries(data)) expect(String(value), `${nameOf(map)}.${key}`).not.to.match(/rediss?:\/\/[^/\s]*@/);
    }
    // The Secret the gateways read REDIS_URL from is documented with the ACL user's name.
    expect(read(join(DEPLOY, 'kubernetes', 'configmap.yaml'))).to.match(/REDIS_URL="redis:\/\/roomcast:\$REDIS_PASSWORD@redis\.roomcast\.svc\.cluster\.local:6379"/);
  });

  it('the public Service keeps the client address (externalTrafficPolicy: Local), so NGINX\'s per-address limits count clients, not nodes', () => {
    const edge = objects.find((o) => o.kind === 'Service' && asObj(o.spec, 'spec').type === 'LoadBalancer') as Obj;
    expect(nameOf(edge)).to.equal('roomcast-edge');
    expect(asObj(edge.spec, 'spec').externalTrafficPolicy).to.equal('Local');
    expect(objects.filter((o) => o.kind === 'Service' && ['LoadBalancer', 'NodePort'].includes(asObj(o.spec, 'spec').type as string)).map(nameOf)).to.deep.equal(['roomcast-edge']);
  });

  it("the hand-written NGINX config keeps the generator's public-listener rules: internal routes, log format, limits, forwarded headers", () => {
    const conf = kubernetesNginxConf(objects);
    const pods = [...conf.matchAll(/~\^([A-Za-z0-9_-]+)\\\.\s/g)].map((m) => m[1] as string);
    const generated = renderNginxConfig({ nodes: pods.map((id) => ({ id, host: `${id}.roomcast-pods.roomcast.svc.cluster.local`, port: 3000 })), listen: 8080 });
    const statement = (text: string, name: string): string[] =>
      [...stripComments(text).matchAll(new RegExp(`^\\s*(${name}\\s[^;]*;)`, 'gm'))].map((m) => (m[1] as string).replace(/\s+/g, ' '));
    for (const name of ['log_format', 'limit_req_zone', 'limit_conn_zone', 'limit_req_status', 'limit_conn_status', 'limit_req_log_level', 'limit_conn_log_level', 'proxy_set_header']) {
      expect(statement(conf, name).sort(), name).to.deep.equal(statement(generated, name).sort());
    }
    expect(block(conf, 'map $arg_sid $roomcast_new_session')).to.deep.equal(block(generated, 'map $arg_sid $roomcast_new_session'));
    for (const line of statement(conf, 'access_log')) expect(line).to.match(/ roomcast;$| off;$/);
    expect(stripComments(conf)).not.to.include('$proxy_add_x_forwarded_for');

    // Every location of the generator, with the same directives (upstream names aside), and none more but NGINX's own probe.
    const ours = locations(conf);
    const theirs = locations(generated);
    for (const [header, directives] of theirs) expect(ours.get(header), `location ${header}`).to.deep.equal(directives);
    expect([...ours.keys()].filter((header) => !theirs.has(header))).to.deep.equal(['= /nginx-healthz']);
  });

  describe('the Kubernetes NGINX config, run in front of a gateway (DNS names and paths adapted to this machine)', () => {
    let gateway: GatewayProcess | undefined;
    let nginx: NginxProcess | undefined;
    before(async () => {
      gateway = await startGatewayProcess({ JWT_SECRET: TEST_JWT_SECRET, NODE_ENV: 'production', NODE_ID: 'roomcast-0' });
      const port = await freePort();
      nginx = await startNginx(adaptToThisMachine(kubernetesNginxConf(objects), gateway.port, port), { port });
    });
    after(async () => {
      await nginx?.stop();
      await gateway?.stop();
    });

    it('answers /metrics, /readyz and /dev/token with 404, passes /healthz and SSE, and logs no token', async () => {
      const url = (nginx as NginxProcess).url;
      for (const path of ['/metrics', '/Metrics/', '/readyz', '/READYZ', '/dev/token']) expect((await fetch(`${url}${path}`)).status, path).to.equal(404);
      expect((await fetch(`${url}/healthz`)).status).to.equal(200);
      const token = await signToken(TEST_JWT_SECRET, { sub: 'k8s', rooms: ['k8s:*'] });
      const controller = new AbortController();
      const stream = await fetch(`${url}/sse?room=k8s:a&token=${token}`, { signal: controller.signal });
      expect(stream.status).to.equal(200);
      controller.abort();
      await new Promise((resolve) => setTimeout(resolve, 200));
      const log = await readFile(join((nginx as NginxProcess).dir, 'access.log'), 'utf8');
      expect(log).to.include('"GET /sse HTTP/1.1" 200');
      expect(log).not.to.include(token);
    });
  });
});

/** `--user NAME rule rule ...` groups of redis-server arguments. */
export function aclUsers(args: readonly string[]): Record<string, string[]> {
  const users: Record<string, string[]> = {};
  for (let index = 0; index < args.length; index += 1) {
    if (args[index] !== '--user') continue;
    const name = args[index + 1] as string;
    const rules: string[] = [];
    for (let next = index + 2; next < args.length && !(args[next] as string).startsWith('--'); next += 1) rules.push(args[next] as string);
    users[name] = [...(users[name] ?? []), ...rules];
  }
  return users;
}

function stripComments(text: string): string {
  return text.replace(/#[^\n]*/g, '');
}

/** The directives of the first block opened by `header`, normalised. */
function block(text: string, header: string): string[] {
  const clean = stripComments(text);
  const start = clean.indexOf(`${header} {`);
  if (start < 0) return [];
  return directiveList(clean.slice(start + header.length + 2, clean.indexOf('}', start)));
}

function directiveList(body: string): string[] {
  return body
    .split(';')
    .map((line) => line.trim().replace(/\s+/g, ' '))
    .filter((line) => line !== '');
}

/** location header -> its directives without proxy_pass (the upstream names differ by design). */
function locations(text: string): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const m of stripComments(text).matchAll(/\blocation\s+([^{]+?)\s*\{([^}]*)\}/g)) {
    found.set((m[1] as string).trim(), directiveList(m[2] as string).filter((line) => !line.startsWith('proxy_pass ')));
  }
  return found;
}

/**
 * The Kubernetes config for a local NGINX: every pod name resolves to the one local gateway, no
 * runtime re-resolution (`resolve` needs NGINX >= 1.27.3 and cluster DNS), paths in the helper's
 * prefix dir, and connection limits this machine allows an unprivileged NGINX.
 */
function adaptToThisMachine(conf: string, gatewayPort: number, listenPort: number): string {
  return conf
    .replace(/^\s*resolver\s[^;]*;\s*$/m, '')
    .replace(/\s+resolve(?=[\s;])/g, '')
    .replace(/[A-Za-z0-9.-]+\.svc\.cluster\.local:3000/g, `127.0.0.1:${gatewayPort}`)
    .replace(/listen 8080;/, `listen 127.0.0.1:${listenPort};`)
    .replace(/^(\s*(?:pid|[a-z_]+_temp_path))\s+\/tmp\/([^;]+);/gm, '$1 $2;')
    .replace(/access_log \/var\/log\/nginx\/access\.log/, 'access_log access.log')
    .replace(/worker_rlimit_nofile \d+;/, 'worker_rlimit_nofile 8192;')
    .replace(/worker_connections \d+;/, 'worker_connections 4096;')
    .replace(/worker_processes auto;/, 'worker_processes 2;');
}
