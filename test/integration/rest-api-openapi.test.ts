/**
 * GET /api/v1/openapi.json against the app that serves it: every /api/v1 route
 * the app serves is in the document and every documented route is served (a
 * route added without documenting it fails here), every schema in it is valid
 * JSON Schema 2020-12 (Ajv, strict) with every $ref resolving inside the
 * document, and real answers of the routes match the schemas it gives for them.
 */
import { expect } from 'chai';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { api } from '../support/rest-api.js';
import { assertOk, connect, request } from '../support/sockets.js';
import { signToken, TEST_JWT_SECRET } from '../../tools/processes/tokens.js';

type Json = Record<string, unknown>;

interface RouteLayer {
  name: string;
  route?: { path: string | string[]; methods: Record<string, boolean> };
  match?: unknown;
  matchers?: Array<(path: string) => unknown>;
}

/** The routes the Express app serves: `METHOD /path` in OpenAPI form ({room}), from its router. */
function servedRoutes(app: TestGateway['gateway']['app']): { routes: string[]; mounted: string[] } {
  const stack = (app as unknown as { router: { stack: RouteLayer[] } }).router.stack;
  const routes: string[] = [];
  const mounted: string[] = [];
  for (const layer of stack) {
    if (layer.route === undefined) {
      // A router mounted under /api/v1 would serve routes this test cannot see one by one.
      if (layer.name === 'router' && (layer.matchers ?? []).some((match) => match('/api/v1/x') !== false)) mounted.push(layer.name);
      continue;
    }
    for (const path of [layer.route.path].flat()) {
      if (!path.startsWith('/api/v1/')) continue;
      for (const [method, on] of Object.entries(layer.route.methods)) {
        if (on && method !== '_all') routes.push(`${method.toUpperCase()} ${path.replace(/:([A-Za-z_]+)/g, '{$1}')}`);
      }
    }
  }
  return { routes: routes.sort(), mounted };
}

/** Every `$ref` in the document, with where it is. */
function refsOf(value: unknown, at = '#'): Array<{ ref: string; at: string }> {
  if (typeof value !== 'object' || value === null) return [];
  const own = typeof (value as Json).$ref === 'string' ? [{ ref: (value as Json).$ref as string, at }] : [];
  return [...own, ...Object.entries(value).flatMap(([key, child]) => refsOf(child, `${at}/${key}`))];
}

/** A JSON pointer (`#/a/b`) inside `document`, or undefined. */
function resolvePointer(document: unknown, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  return ref
    .slice(2)
    .split('/')
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<unknown>((node, part) => (typeof node === 'object' && node !== null ? (node as Json)[part] : undefined), document);
}

describe('GET /api/v1/openapi.json', function () {
  this.timeout(30_000);
  let gw: TestGateway;
  let document: Json;
  let ajv: Ajv2020;
  /** The document's component schemas, under `$defs` of one schema so that Ajv resolves their references. */
  const DOC_ID = 'urn:roomcast:openapi';
  const componentValidator = (name: string): ValidateFunction => ajv.getSchema(`${DOC_ID}#/$defs/${name}`) as ValidateFunction;
  const responseValidator = (path: string, method: string, status = '200'): ValidateFunction => {
    const operation = (document.paths as Record<string, Record<string, Json>>)[path]?.[method] as Json;
    const schema = ((operation.responses as Record<string, Json>)[status]?.content as Record<string, { schema: Json }>)['application/json']?.schema as Json;
    return ajv.compile(JSON.parse(JSON.stringify(schema).replaceAll('"#/components/schemas/', `"${DOC_ID}#/$defs/`)) as Json);
  };
  const expectValid = (validate: ValidateFunction, value: unknown, what: string): void => {
    const valid = validate(value);
    expect(valid, `${what}: ${JSON.stringify(validate.errors)}`).to.equal(true);
  };

  before(async () => {
    gw = await startGateway();
    const answer = await api(gw.url, '/api/v1/openapi.json', { auth: null });
    expect(answer.status).to.equal(200);
    document = answer.body as Json;
    ajv = new Ajv2020({ strict: true, allErrors: true });
    // The document's references point at #/components/schemas/<name>; the same schemas as $defs of one schema.
    const schemas = (document.components as { schemas: Record<string, Json> }).schemas;
    ajv.addSchema(JSON.parse(JSON.stringify({ $id: DOC_ID, $defs: schemas }).replaceAll('"#/components/schemas/', '"#/$defs/')) as Json);
  });
  after(() => gw.close());

  it('documents every /api/v1 route the app serves, and serves every route it documents', () => {
    const { routes, mounted } = servedRoutes(gw.gateway.app);
    expect(mounted, 'routers mounted under /api/v1').to.deep.equal([]);
    const documented = Object.entries(document.paths as Record<string, Json>)
      .flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`))
      .sort();
    expect(routes).to.include('POST /api/v1/publish');
    expect(documented).to.deep.equal(routes);
  });

  it('is OpenAPI 3.1 with bearer security on every route but itself, and each path parameter declared', () => {
    expect(document.openapi).to.equal('3.1.0');
    expect((document.components as Json).securitySchemes).to.deep.equal({ apiKey: { type: 'http', scheme: 'bearer', description: 'One of API_KEYS' } });
    for (const [path, operations] of Object.entries(document.paths as Record<string, Record<string, Json>>)) {
      for (const [method, operation] of Object.entries(operations)) {
        const where = `${method} ${path}`;
        expect(operation.security, where).to.deep.equal(path === '/api/v1/openapi.json' ? [] : [{ apiKey: [] }]);
        expect(operation.responses as Json, where).to.have.property('200');
        if (path !== '/api/v1/openapi.json') {
          for (const status of ['400', '401', '403']) {
            expect(((operation.responses as Record<string, Json>)[status]?.content as Json)['application/json'], `${where} ${status}`).to.deep.equal({ schema: { $ref: '#/components/schemas/Error' } });
          }
        }
        const declared = ((operation.parameters ?? []) as Array<{ name: string; in: string; required: boolean }>).filter((parameter) => parameter.in === 'path');
        const inTemplate = [...path.matchAll(/\{([^}]+)\}/g)].map((match) => match[1]);
        expect(declared.map((parameter) => parameter.name), where).to.deep.equal(inTemplate);
        for (const parameter of declared) expect(parameter.required, `${where} ${parameter.name}`).to.equal(true);
      }
    }
  });

  it('has every $ref resolving inside the document, and every schema valid JSON Schema 2020-12', () => {
    const refs = refsOf(document);
    expect(refs.length).to.be.greaterThan(10);
    for (const { ref, at } of refs) expect(resolvePointer(document, ref), `${ref} at ${at}`).to.be.an('object');
    // Each component compiles in strict mode (unknown keywords, bad types and unresolved references throw).
    for (const name of Object.keys((document.components as { schemas: Json }).schemas)) {
      expect(componentValidator(name), name).to.be.a('function');
    }
    // Each parameter schema too.
    for (const operations of Object.values(document.paths as Record<string, Record<string, Json>>)) {
      for (const operation of Object.values(operations)) {
        for (const parameter of (operation.parameters ?? []) as Array<{ name: string; schema: Json }>) {
          expect(() => ajv.compile(parameter.schema), parameter.name).to.not.throw();
        }
      }
    }
  });

  it('describes the answers the routes really give', async () => {
    const socket = await connect(gw.url, await signToken(TEST_JWT_SECRET, { sub: 'doc-user', rooms: ['*'] }));
    try {
      assertOk(await request(socket, 'room:join', { room: 'doc:r' }));
      const checks: Array<[string, string, Promise<{ status: number; body: unknown }>]> = [
        ['/api/v1/publish', 'post', api(gw.url, '/api/v1/publish', { method: 'POST', body: { room: 'doc:r', event: 'e', data: { nested: [1, 'two', null] } } })],
        ['/api/v1/batch', 'post', api(gw.url, '/api/v1/batch', { method: 'POST', body: { publications: [{ room: 'doc:r', event: 'e', data: 1 }, { room: '!', event: 'e', data: 1 }] } })],
        ['/api/v1/rooms', 'get', api(gw.url, '/api/v1/rooms?limit=1')],
        ['/api/v1/rooms/{room}/history', 'get', api(gw.url, '/api/v1/rooms/doc:r/history')],
        ['/api/v1/rooms/{room}/presence', 'get', api(gw.url, '/api/v1/rooms/doc:r/presence')],
        ['/api/v1/rooms/{room}/presence', 'get', api(gw.url, '/api/v1/rooms/doc:r/presence?counts=1')],
        ['/api/v1/users/{user}/rooms/{room}/leave', 'post', api(gw.url, '/api/v1/users/doc-user/rooms/doc:r/leave', { method: 'POST' })],
        ['/api/v1/users/{user}/disconnect', 'post', api(gw.url, '/api/v1/users/doc-user/disconnect', { method: 'POST' })],
      ];
      for (const [path, method, answer] of checks) {
        const { status, body } = await answer;
        expect(status, `${method} ${path}`).to.equal(200);
        expectValid(responseValidator(path, method), body, `${method} ${path}`);
      }
      const refused = await api(gw.url, '/api/v1/rooms?limit=0');
      expect(refused.status).to.equal(400);
      expectValid(responseValidator('/api/v1/rooms', 'get', '400'), refused.body, 'a 400');
      // And the request bodies: what the routes take is what the document says.
      expectValid(componentValidator('BatchBody'), { publications: [{ room: 'r', event: 'e', data: { a: [1] } }] }, 'a batch body');
      expect(componentValidator('BatchBody')({ publications: [] }), 'an empty batch').to.equal(false);
      expect(componentValidator('PublishBody')({ room: 'r', event: 'e', data: 1, extra: 1 }), 'an unknown field').to.equal(false);
    } finally {
      socket.close();
    }
  });
});
