/**
 * deploy/: every YAML and JSON file parses; the container image and the
 * Kubernetes manifests keep the invariants the drain and sticky routing depend
 * on; and every metric the Grafana dashboard and the alert rules query is one a
 * real gateway (its own process, on a real Redis, as production runs it) exposes
 * at GET /metrics. Also runs the Dockerfile's HEALTHCHECK command and its CMD's
 * SIGTERM path against that process, since no Docker engine is needed for either.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { renderNginxConfig } from '../../nginx/generate-config.js';
import { loadConfig } from '../../server/config/load.js';
import { startGatewayProcess, type GatewayProcess } from '../../tools/processes/gateway-process.js';
import { startRedis, type RedisProcess } from '../../tools/processes/redis-server.js';
import { TEST_JWT_SECRET } from '../../tools/processes/tokens.js';
import { asArr, asObj, composeServices, DEPLOY, filesUnder, interpolate, kubernetesObjects, nameOf, parseYaml, read, rel, ROOT, type Json, type Obj } from './deploy-reader.js';

const run = promisify(execFile);

const PROMQL_KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan', 'atan2']);

/**
 * The metric names a PromQL expression (or a Grafana variable query) selects:
 * strings, label matchers, ranges, grouping clauses and Grafana variables are
 * removed, then every identifier that is not a function call or a keyword is a
 * metric name.
 */
export function metricNames(expression: string): string[] {
  const text = expression
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/#[^\n]*/g, ' ')
    // Grafana's label_values(metric, label): only the first argument is a metric.
    .replace(/\blabel_values\(\s*([^,)]*?)\s*,[^)]*\)/g, ' $1 ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\{[^}]*\}|\$\w+/g, ' ');
  const names = new Set<string>();
  for (const match of text.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const word = match[0];
    const at = match.index;
    if (at > 0 && /[0-9.]/.test(text[at - 1] as string)) continue; // 5m, 1e3
    if (/^\s*\(/.test(text.slice(at + word.length))) continue; // a function
    if (PROMQL_KEYWORDS.has(word)) continue;
    names.add(word);
  }
  return [...names];
}

interface Query {
  where: string;
  expr: string;
}

/** Every PromQL expression of the Grafana dashboards: panel targets and query variables. */
function dashboardQueries(): Query[] {
  const queries: Query[] = [];
  const walk = (node: Json, where: string): void => {
    if (Array.isArray(node)) {
      node.forEach((child) => walk(child, where));
      return;
    }
    if (node === null || typeof node !== 'object') return;
    const title = typeof node.title === 'string' ? `${where} > ${node.title}` : where;
    if (typeof node.expr === 'string') queries.push({ where: title, expr: node.expr });
    if (node.type === 'query' && typeof node.name === 'string') {
      const query = typeof node.query === 'string' ? node.query : typeof node.definition === 'string' ? node.definition : undefined;
      const nested = node.query !== null && typeof node.query === 'object' && !Array.isArray(node.query) ? node.query.query : undefined;
      for (const expr of [query, nested]) if (typeof expr === 'string') queries.push({ where: `${where} > variable ${node.name}`, expr });
    }
    for (const [key, value] of Object.entries(node)) if (key !== 'expr') walk(value, title);
  };
  for (const path of filesUnder(join(DEPLOY, 'grafana')).filter((p) => p.endsWith('.json'))) walk(JSON.parse(read(path)) as Json, rel(path));
  return queries;
}

interface AlertRule {
  alert?: string;
  record?: string;
  expr: string;
  labels?: Obj;
  annotations?: Obj;
}

function ruleFiles(): { path: string; rules: AlertRule[] }[] {
  return filesUnder(join(DEPLOY, 'prometheus'))
    .filter((path) => /\.ya?ml$/.test(path))
    .map((path) => ({
      path,
      rules: parseYaml(path).flatMap((doc) => asArr(asObj(doc, rel(path)).groups).flatMap((group) => asArr(asObj(group, 'group').rules))) as unknown as AlertRule[],
    }));
}

/** Names in a Prometheus text exposition: sample names and `# TYPE` declarations. */
function exposition(text: string): { samples: Set<string>; types: Map<string, string> } {
  const samples = new Set<string>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type) types.set(type[1] as string, type[2] as string);
    else if (/^[A-Za-z_:]/.test(line)) samples.add((/^[A-Za-z_:][A-Za-z0-9_:]*/.exec(line) as RegExpExecArray)[0]);
  }
  return { samples, types };
}

function exposed(name: string, metrics: ReturnType<typeof exposition>): boolean {
  if (metrics.samples.has(name) || metrics.types.has(name)) return true;
  // A histogram with labels and no observation yet has no _bucket/_sum/_count samples, only its TYPE.
  const base = /^(.*)_(?:bucket|sum|count)$/.exec(name)?.[1];
  return base !== undefined && ['histogram', 'summary'].includes(metrics.types.get(base) ?? '');
}

describe('deploy/ files', function () {
  this.timeout(60_000);

  it('every YAML and JSON file under deploy/ parses', () => {
    const files = filesUnder(DEPLOY).filter((path) => /\.(ya?ml|json)$/.test(path));
    expect(files.map(rel)).to.include.members([
      'deploy/compose/compose.yaml',
      'deploy/grafana/roomcast-dashboard.json',
      'deploy/prometheus/roomcast-alerts.yml',
      'deploy/kubernetes/gateway.yaml',
    ]);
    for (const path of files) {
      if (path.endsWith('.json')) {
        expect(() => JSON.parse(read(path)), rel(path)).not.to.throw();
      } else {
        expect(parseYaml(path).length, rel(path)).to.be.greaterThan(0);
      }
    }
  });

  it('metricNames finds the metrics of PromQL expressions and Grafana variable queries', () => {
    expect(metricNames('histogram_quantile(0.99, sum by (instance, le) (rate(roomcast_redis_pubsub_lag_seconds_bucket{instance=~"$instance"}[$__rate_interval]))) > 0.010')).to.deep.equal([
      'roomcast_redis_pubsub_lag_seconds_bucket',
    ]);
    expect(metricNames('a_total offset 5m and on (instance) deriv(sum by (instance) (b)[1h:1m]) < 1000 / 3600')).to.deep.equal(['a_total', 'b']);
    expect(metricNames('label_values(roomcast_build_info, instance)')).to.deep.equal(['roomcast_build_info']);
    expect(metricNames('sum(rate(x_total{code=~"A|B", reason!="ping timeout"}[5m])) > 3 * sum(rate(x_total[1h] offset 5m))')).to.deep.equal(['x_total']);
  });

  it('the Dockerfile: multi-stage build, production dependencies only, non-root, a healthcheck, node (not npm) as the command', () => {
    const text = read(join(DEPLOY, 'Dockerfile'));
    const stages = text.split(/^FROM\s/m).slice(1);
    expect(stages.length, 'build and runtime stages').to.be.at.least(2);
    const build = stages[0] as string;
    const runtime = stages[stages.length - 1] as string;
    expect(build).to.match(/^RUN npm ci\b/m);
    expect(build).to.match(/^RUN npm run build\b/m);
    expect(runtime).to.match(/^RUN npm ci --omit=dev\b/m);
    for (const dir of ['dist/server', 'dist/shared', 'dist/public']) expect(runtime, dir).to.match(new RegExp(`^COPY --from=\\S+ /app/${dir} `, 'm'));

    const user = /^USER\s+(\S+)/m.exec(runtime)?.[1];
    expect(user, 'USER in the runtime stage').to.be.a('string');
    expect(['root', '0', '0:0']).not.to.include(user);
    expect(runtime).to.match(/^HEALTHCHECK\b.*\/healthz/ms);

    const cmd = /^CMD\s+(\[.*\])\s*$/m.exec(runtime)?.[1];
    expect(cmd, 'CMD in exec form').to.be.a('string');
    const argv = JSON.parse(cmd as string) as string[];
    expect(argv[0], 'the gateway is started by node itself: npm does not pass SIGTERM on').to.equal('node');
    expect(argv).to.deep.equal(['node', 'dist/server/main.js']);
    expect(runtime).not.to.match(/^(CMD|ENTRYPOINT).*\bnpm\b/m);
  });

  it('Kubernetes: the grace period covers the drain, probes on /readyz and /healthz, a PodDisruptionBudget, non-root, NODE_ID = pod name', () => {
    const objects = kubernetesObjects();
    const gateways = objects.filter((o) => ['StatefulSet', 'Deployment'].includes(o.kind as string) && asObj(o.metadata, 'metadata').name === 'roomcast');
    expect(gateways, 'the roomcast workload').to.have.length(1);
    const gateway = gateways[0] as Obj;
    const spec = asObj(gateway.spec, 'spec');
    const podSpec = asObj(asObj(spec.template, 'template').spec, 'pod spec');
    const container = asObj(asArr(podSpec.containers)[0], 'container');

    // DRAIN_TIMEOUT_MS: the container's env, else the ConfigMaps it reads, else the default.
    const env = asArr(container.env).map((e) => asObj(e, 'env'));
    const configMapNames = asArr(container.envFrom).flatMap((e) => (asObj(e, 'envFrom').configMapRef ? [asObj(asObj(e, 'envFrom').configMapRef, 'ref').name] : []));
    const configMaps = objects.filter((o) => o.kind === 'ConfigMap' && configMapNames.includes(asObj(o.metadata, 'metadata').name as string));
    expect(configMaps.length, 'the ConfigMap the gateway reads').to.equal(configMapNames.length);
    const drainSetting = (env.find((e) => e.name === 'DRAIN_TIMEOUT_MS')?.value ??
      configMaps.map((c) => asObj(c.data, 'data').DRAIN_TIMEOUT_MS).find((v) => v !== undefined)) as string | undefined;
    const drainTimeoutMs = loadConfig(drainSetting === undefined ? {} : { DRAIN_TIMEOUT_MS: drainSetting }).drainTimeoutMs;
    const grace = podSpec.terminationGracePeriodSeconds as number;
    expect(grace, 'terminationGracePeriodSeconds').to.be.a('number');
    // server/main.ts exits by DRAIN_TIMEOUT_MS + 10 s whatever happens; the kubelet must not SIGKILL before.
    expect(grace, `terminationGracePeriodSeconds above DRAIN_TIMEOUT_MS (${drainTimeoutMs} ms) + 10 s`).to.be.at.least(drainTimeoutMs / 1000 + 10);

    expect(asObj(asObj(container.readinessProbe, 'readinessProbe').httpGet, 'httpGet').path).to.equal('/readyz');
    expect(asObj(asObj(container.livenessProbe, 'livenessProbe').httpGet, 'httpGet').path).to.equal('/healthz');

    const nodeId = env.find((e) => e.name === 'NODE_ID');
    expect(nodeId?.valueFrom, 'NODE_ID from the downward API').to.deep.equal({ fieldRef: { fieldPath: 'metadata.name' } });

    const podSecurity = asObj(podSpec.securityContext ?? {}, 'securityContext');
    const containerSecurity = asObj(container.securityContext ?? {}, 'securityContext');
    expect(podSecurity.runAsNonRoot === true || containerSecurity.runAsNonRoot === true, 'runAsNonRoot').to.equal(true);
    expect(podSecurity.runAsUser ?? containerSecurity.runAsUser).not.to.equal(0);

    const labels = asObj(asObj(spec.selector, 'selector').matchLabels, 'matchLabels');
    const budgets = objects.filter((o) => o.kind === 'PodDisruptionBudget');
    expect(
      budgets.some((b) => JSON.stringify(asObj(asObj(b.spec, 'spec').selector, 'selector').matchLabels) === JSON.stringify(labels)),
      'a PodDisruptionBudget selecting the gateway pods',
    ).to.equal(true);
    expect(objects.some((o) => o.kind === 'Service'), 'a Service').to.equal(true);
  });

  it('Kubernetes: NGINX routes the sessions of every gateway pod (NODE_ID = pod name) to that pod', () => {
    const objects = kubernetesObjects();
    const gateway = objects.find((o) => o.kind === 'StatefulSet' && asObj(o.metadata, 'metadata').name === 'roomcast') as Obj;
    expect(gateway, 'the roomcast StatefulSet (stable pod names make the NGINX map static)').to.be.an('object');
    const spec = asObj(gateway.spec, 'spec');
    const replicas = spec.replicas as number;
    const headless = objects.find((o) => o.kind === 'Service' && asObj(o.metadata, 'metadata').name === spec.serviceName) as Obj;
    expect(asObj(headless.spec, 'spec').clusterIP).to.equal('None');
    expect(asObj(headless.spec, 'spec').publishNotReadyAddresses, 'a draining pod still reachable by its sessions').to.equal(true);

    const nginx = objects.find((o) => o.kind === 'ConfigMap' && typeof asObj(o.data ?? {}, 'data')['nginx.conf'] === 'string') as Obj;
    const conf = asObj(nginx.data, 'data')['nginx.conf'] as string;
    const mapped = [...conf.matchAll(/~\^([A-Za-z0-9_-]+)\\\.\s+(\S+);/g)].map((m) => ({ id: m[1] as string, upstream: m[2] as string }));
    const pods = Array.from({ length: replicas }, (_, i) => `roomcast-${i}`);
    expect(mapped.map((m) => m.id), `the NGINX map lists exactly the ${replicas} pods`).to.deep.equal(pods);
    const namespace = asObj(gateway.metadata, 'metadata').namespace as string;
    for (const { id, upstream } of mapped) {
      const block = new RegExp(`upstream ${upstream} \\{([^}]*)\\}`).exec(conf)?.[1];
      expect(block, `upstream ${upstream}`).to.be.a('string');
      expect(block).to.include(`server ${id}.${spec.serviceName as string}.${namespace}.svc.cluster.local:3000 resolve`);
    }
    expect(conf).to.match(/^\s*resolver\s/m);
    expect(conf).to.include('proxy_pass http://$roomcast_upstream;');
  });

  it('compose: unique NODE_IDs, a stop grace period above the drain, and nginx.conf is the generator\'s config for those nodes', () => {
    const services = composeServices();
    const nodes = Object.entries(services)
      .map(([name, service]) => ({ name, service }))
      .filter(({ service }) => typeof asObj(service.environment ?? {}, 'environment').NODE_ID === 'string');
    const ids = nodes.map(({ service }) => asObj(service.environment, 'environment').NODE_ID as string);
    expect(ids).to.deep.equal(['node1', 'node2', 'node3']);
    for (const { name, service } of nodes) {
      const env = asObj(service.environment, 'environment');
      const drainMs = loadConfig({ DRAIN_TIMEOUT_MS: String(env.DRAIN_TIMEOUT_MS ?? '30000') }).drainTimeoutMs;
      const grace = Number(/^(\d+)s$/.exec(String(service.stop_grace_period))?.[1]);
      expect(grace, `${name} stop_grace_period`).to.be.at.least(drainMs / 1000 + 10);
      // The ACL user of the Redis service, with the password every Redis client must give (test/deploy/redis-acl checks it live).
      expect(env.REDIS_URL, name).to.match(/^redis:\/\/roomcast:\$\{REDIS_PASSWORD:\?[^}]+\}@redis:6379$/);
      expect(JSON.stringify(service.command ?? null), `${name} runs the image's CMD`).not.to.match(/npm/);
    }
    const expected = renderNginxConfig({
      nodes: nodes.map(({ name }, i) => ({ id: ids[i] as string, host: name, port: 3000 })),
      listen: 8080,
      user: 'nginx',
      generatedBy: 'renderNginxConfig for deploy/compose/compose.yaml (node1..node3 on port 3000, listen 8080, user nginx; test/deploy checks it)',
    });
    expect(read(join(DEPLOY, 'compose', 'nginx.conf'))).to.equal(expected);
  });

  it('compose: gateways and Redis run read-only, without capabilities or privilege gain; only NGINX publishes a port', () => {
    const services = composeServices();
    for (const [name, service] of Object.entries(services)) {
      expect(asArr(service.security_opt), `${name} security_opt`).to.include('no-new-privileges:true');
      if (name === 'nginx') {
        expect(asArr(service.ports), 'nginx publishes the one public port').to.have.length(1);
        continue;
      }
      expect(service.ports, `${name} publishes no port`).to.equal(undefined);
      expect(service.read_only, `${name} read_only`).to.equal(true);
      expect(asArr(service.cap_drop), `${name} cap_drop`).to.include('ALL');
      expect(service.cap_add, `${name} cap_add`).to.equal(undefined);
      expect(service.privileged ?? false, `${name} privileged`).to.equal(false);
    }
    const redis = services.redis as Obj;
    expect(String(redis.user), 'Redis runs as the image\'s redis user').to.match(/^999(:999)?$/);
  });

  it('JWT_AUDIENCE (and a JWT_ISSUER) accompany every JWKS_URL or JWT_PUBLIC_KEY, set or shown as an example', () => {
    const files = [join(DEPLOY, 'compose', 'compose.yaml'), ...filesUnder(join(DEPLOY, 'kubernetes')).filter((path) => path.endsWith('.yaml'))];
    let examples = 0;
    for (const path of files) {
      const lines = read(path).split('\n');
      lines.forEach((line, index) => {
        if (!/^\s*#?\s*-?\s*(?:name:\s*)?(JWKS_URL|JWT_PUBLIC_KEY)\s*:/.test(line)) return;
        examples += 1;
        const near = lines.slice(Math.max(0, index - 6), index + 7).join('\n');
        expect(near, `${rel(path)}:${index + 1}: JWT_AUDIENCE next to ${line.trim()}`).to.match(/^\s*#?\s*JWT_AUDIENCE\s*:\s*\S/m);
        expect(near, `${rel(path)}:${index + 1}: JWT_ISSUER next to ${line.trim()}`).to.match(/^\s*#?\s*JWT_ISSUER\s*:\s*\S/m);
      });
    }
    expect(examples, 'the deploy examples show how to use JWKS_URL').to.be.at.least(2);
    // And where a key source is actually set (not only shown), the audience is set with it.
    const envs: Obj[] = [
      ...Object.values(composeServices()).map((service) => asObj(service.environment ?? {}, 'environment')),
      ...kubernetesObjects().filter((o) => o.kind === 'ConfigMap').map((o) => asObj(o.data ?? {}, 'data')),
    ];
    for (const env of envs) {
      if (env.JWKS_URL !== undefined || env.JWT_PUBLIC_KEY !== undefined) expect(env.JWT_AUDIENCE, 'JWT_AUDIENCE beside a public key source').to.be.a('string');
    }
  });

  it('every gateway environment of deploy/ is a valid production config, with its JWKS example too, and believes NGINX\'s X-Forwarded-For', () => {
    const secrets = { JWT_SECRET: 's'.repeat(64), API_KEYS: 'k'.repeat(32), REDIS_PASSWORD: 'p'.repeat(32) };
    const resolveVariables = (value: Json): string => Object.entries(secrets).reduce((text, [name, secret]) => interpolate(text, name, secret), String(value));
    const compose = asObj(composeServices().node1?.environment, 'node1 environment');
    const configMap = asObj(kubernetesObjects().find((o) => o.kind === 'ConfigMap' && nameOf(o) === 'roomcast-config')?.data, 'roomcast-config');
    const environments = [
      {
        where: 'deploy/compose/compose.yaml',
        // The image's ENV, then the service's.
        env: { NODE_ENV: 'production', ...Object.fromEntries(Object.entries(compose).map(([key, value]) => [key, resolveVariables(value)])) },
      },
      {
        where: 'deploy/kubernetes/configmap.yaml',
        // The image's ENV, the ConfigMap, and the roomcast-secrets Secret as configmap.yaml says to create it.
        env: { NODE_ENV: 'production', ...(configMap as Record<string, string>), JWT_SECRET: secrets.JWT_SECRET, API_KEYS: secrets.API_KEYS, REDIS_URL: `redis://roomcast:${secrets.REDIS_PASSWORD}@redis.roomcast.svc.cluster.local:6379` },
      },
    ];
    for (const { where, env } of environments) {
      const config = loadConfig(env);
      expect(config.production, where).to.equal(true);
      expect(config.trustedProxies.filter((entry) => entry !== 'loopback').length, `${where}: TRUSTED_PROXIES names NGINX's network`).to.be.greaterThan(0);
      // The commented identity-provider example, switched on instead of JWT_SECRET, is accepted as is; without its audience it is refused.
      const example = Object.fromEntries(
        [...read(join(ROOT, where)).matchAll(/^\s*#\s*(JWKS_URL|JWT_PUBLIC_KEY|JWT_AUDIENCE|JWT_ISSUER|TOKEN_MAX_TTL_S):\s*"?([^"\s]+)"?\s*$/gm)].map((m) => [m[1] as string, m[2] as string]),
      );
      expect(example.JWKS_URL, `${where}: a JWKS_URL example`).to.be.a('string');
      const withProvider = { ...env, ...example, JWT_SECRET: undefined };
      expect(loadConfig(withProvider).jwt, where).to.deep.include({ audience: example.JWT_AUDIENCE, issuer: example.JWT_ISSUER });
      expect(() => loadConfig({ ...withProvider, JWT_AUDIENCE: undefined }), `${where} without JWT_AUDIENCE`).to.throw(/JWT_AUDIENCE/);
    }
  });

  it('the alert rules: each has an expression, a severity and a summary, and docs/operations.md explains it', () => {
    const operations = read(join(ROOT, 'docs', 'operations.md'));
    const files = ruleFiles();
    expect(files.length).to.be.greaterThan(0);
    const alerts = files.flatMap(({ rules }) => rules.filter((rule) => rule.alert !== undefined));
    expect(alerts.map((a) => a.alert)).to.include.members([
      'RoomcastCanaryFailing',
      'RoomcastPubSubLagHigh',
      'RoomcastErrorRateSpike',
      'RoomcastMassDisconnect',
      'RoomcastHeapGrowth',
    ]);
    for (const rule of alerts) {
      expect(rule.expr, `${rule.alert} expr`).to.be.a('string').and.not.equal('');
      expect(['critical', 'warning'], `${rule.alert} severity`).to.include(rule.labels?.severity);
      expect(rule.annotations?.summary, `${rule.alert} summary`).to.be.a('string');
      expect(operations, `docs/operations.md mentions ${rule.alert}`).to.include(rule.alert);
    }
  });

  describe('against a gateway process on Redis', function () {
    let redis: RedisProcess | undefined;
    let node: GatewayProcess | undefined;

    before(async () => {
      redis = await startRedis();
      node = await startGatewayProcess({ REDIS_URL: redis.url, JWT_SECRET: TEST_JWT_SECRET, DRAIN_TIMEOUT_MS: '1000', NODE_ID: 'deploy-test' });
    });
    after(async () => {
      await node?.kill().catch(() => undefined);
      await redis?.stop();
    });

    it('every metric the dashboard and the alert rules query is exposed at /metrics', async () => {
      const response = await fetch(`${(node as GatewayProcess).url}/metrics`);
      expect(response.status).to.equal(200);
      const metrics = exposition(await response.text());

      const queries: Query[] = [
        ...dashboardQueries(),
        ...ruleFiles().flatMap(({ path, rules }) => rules.map((rule) => ({ where: `${rel(path)} > ${rule.alert ?? rule.record ?? '?'}`, expr: rule.expr }))),
      ];
      expect(queries.length).to.be.greaterThan(20);
      const recorded = new Set(ruleFiles().flatMap(({ rules }) => rules.flatMap((rule) => (rule.record === undefined ? [] : [rule.record]))));
      const used = new Map<string, string[]>();
      for (const { where, expr } of queries) for (const name of metricNames(expr)) used.set(name, [...(used.get(name) ?? []), where]);
      expect(used.size).to.be.greaterThan(10);

      const missing = [...used.keys()].filter((name) => !recorded.has(name) && !exposed(name, metrics)).sort();
      const report = missing.map((name) => `  ${name}  (${[...new Set(used.get(name))].slice(0, 2).join('; ')})`).join('\n');
      expect(missing, `metrics queried by deploy/ but absent from GET /metrics:\n${report}\n`).to.deep.equal([]);

      // docs/operations.md describes every metric that deploy/ relies on.
      const operations = read(join(ROOT, 'docs', 'operations.md'));
      const undocumented = [...used.keys()].map((name) => name.replace(/_(?:bucket|sum|count)$/, '')).filter((name) => !operations.includes(name));
      expect(undocumented, 'metrics used by deploy/ that docs/operations.md does not describe').to.deep.equal([]);
    });

    it("the Dockerfile's HEALTHCHECK command passes against a live node and fails against none", async () => {
      const text = read(join(DEPLOY, 'Dockerfile'));
      const argv = JSON.parse((/^\s+CMD\s+(\[.*\])\s*$/m.exec(text.slice(text.search(/^HEALTHCHECK/m))) as RegExpExecArray)[1] as string) as string[];
      expect(argv[0]).to.equal('node');
      const port = String((node as GatewayProcess).port);
      await run(process.execPath, argv.slice(1), { env: { PATH: process.env.PATH ?? '', PORT: port }, timeout: 10_000 });
      const failed = await run(process.execPath, argv.slice(1), { env: { PATH: process.env.PATH ?? '', PORT: '1' }, timeout: 10_000 }).then(
        () => false,
        () => true,
      );
      expect(failed, 'the healthcheck fails when nothing answers').to.equal(true);
    });

    it('the CMD (node dist/server/main.js) drains on SIGTERM and exits 0', async () => {
      const finished = await (node as GatewayProcess).stop(15_000);
      expect(finished.signal, finished.stderr).to.equal(null);
      expect(finished.code, finished.stderr).to.equal(0);
    });
  });
});
