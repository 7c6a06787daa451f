/**
 * GET /api/v1/openapi.json: the OpenAPI 3.1 document of every /api/v1 route,
 * generated from the zod schemas of shared/api.ts (z.toJSONSchema), so the
 * document cannot drift from what the routes check. API_ROUTES is the list the
 * document is built from; test/integration/rest-api-openapi.test.ts fails when
 * the app serves an /api/v1 route that is not in it.
 *
 * Named schemas (bodies, answers, the error, JSON values) go to
 * components/schemas and are referred to by `$ref`; path and query parameters
 * are inline, one per field of their object schema.
 */
import { z } from 'zod';
import {
  apiErrorResponseSchema,
  batchBodySchema,
  batchResponseSchema,
  disconnectBodySchema,
  disconnectResponseSchema,
  historyQuerySchema,
  historyResponseSchema,
  httpPublishBodySchema,
  httpPublishResponseSchema,
  leaveQuerySchema,
  presenceCountsResponseSchema,
  presenceListResponseSchema,
  presenceQuerySchema,
  publicationDataSchema,
  roomParamsSchema,
  roomsQuerySchema,
  roomsResponseSchema,
  userLeaveResponseSchema,
  userParamsSchema,
  userRoomParamsSchema,
} from '../../shared/index.js';

type JsonSchema = Record<string, unknown>;
type ObjectSchema = z.ZodObject;

export interface ApiRouteDoc {
  method: 'get' | 'post';
  /** Express form (`/api/v1/rooms/:room/history`). */
  path: string;
  summary: string;
  params?: ObjectSchema;
  query?: ObjectSchema;
  /** The JSON body and its component name. */
  body?: { name: string; schema: z.ZodType; required: boolean };
  /** The 200 answer by component name; several: one of them (the summary says which when). */
  responses: Record<string, z.ZodType>;
  /** Public: no API key (the document itself). */
  public?: boolean;
}

/** A free-form JSON document (the document's own answer). */
const openApiDocumentSchema = z.record(z.string(), z.unknown());

export const API_ROUTES: readonly ApiRouteDoc[] = [
  {
    method: 'post',
    path: '/api/v1/publish',
    summary:
      'Publish into one room (`room`: 2xx stored, any error status not stored, no answer unknown: retry with the same idempotencyKey) or several (`rooms[]`: one result per room, stored, refused or unknown)',
    body: { name: 'PublishBody', schema: httpPublishBodySchema, required: true },
    responses: { PublishResponse: httpPublishResponseSchema },
  },
  {
    method: 'post',
    path: '/api/v1/batch',
    summary: 'Publish up to 1000 publications, each into its own room; results[i] answers publications[i] (stored, refused, or unknown: retry it with the same idempotencyKey). Only a body malformed as a whole is a 400',
    body: { name: 'BatchBody', schema: batchBodySchema, required: true },
    responses: { BatchResponse: batchResponseSchema },
  },
  {
    method: 'get',
    path: '/api/v1/rooms',
    summary: 'Occupied rooms of a namespace across every node, with their member counts, in name order; page on with `cursor` until it is null',
    query: roomsQuerySchema,
    responses: { RoomsResponse: roomsResponseSchema },
  },
  {
    method: 'get',
    path: '/api/v1/rooms/:room/history',
    summary: 'A page of a room\'s history after `since` (<epoch>:<offset>), by the rules of the socket room:history',
    params: roomParamsSchema,
    query: historyQuerySchema,
    responses: { HistoryResponse: historyResponseSchema },
  },
  {
    method: 'get',
    path: '/api/v1/rooms/:room/presence',
    summary: 'The members of a room on every node (namespaces with presence on), or with `counts=1` only `{ members, users }` (any namespace)',
    params: roomParamsSchema,
    query: presenceQuerySchema,
    responses: { PresenceListResponse: presenceListResponseSchema, PresenceCountsResponse: presenceCountsResponseSchema },
  },
  {
    method: 'post',
    path: '/api/v1/users/:user/disconnect',
    summary: 'Every connection and SSE stream of the user, on every node, is told protocol:error { code } (default UNAUTHENTICATED) and closed; answered once sent',
    params: userParamsSchema,
    body: { name: 'DisconnectBody', schema: disconnectBodySchema, required: false },
    responses: { DisconnectResponse: disconnectResponseSchema },
  },
  {
    method: 'post',
    path: '/api/v1/users/:user/rooms/:room/leave',
    summary: 'The user leaves the room on every node: each connection is told room:left { room, reason: "api" }, its SSE streams of the room are closed; answered once sent',
    params: userRoomParamsSchema,
    query: leaveQuerySchema,
    responses: { UserLeaveResponse: userLeaveResponseSchema },
  },
  {
    method: 'get',
    path: '/api/v1/openapi.json',
    summary: 'This document',
    responses: { OpenApiDocument: openApiDocumentSchema },
    public: true,
  },
];

/** The statuses a route may answer with the error body. */
function errorStatuses(route: ApiRouteDoc): number[] {
  const statuses = new Set<number>([400, 500, 503]);
  if (route.public === true) return [500];
  for (const status of [401, 403]) statuses.add(status);
  if (route.body !== undefined) statuses.add(413);
  return [...statuses].sort((a, b) => a - b);
}

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'INVALID_PAYLOAD: the input does not match (the message names what)',
  401: 'UNAUTHENTICATED: no `Authorization: Bearer <API key>`',
  403: 'PUBLISH_FORBIDDEN: the API key is not valid, or API_KEYS is not set',
  413: 'PAYLOAD_TOO_LARGE',
  500: 'INTERNAL',
  503: 'UNAVAILABLE (retryable): the store did not answer',
};

/** `/api/v1/rooms/:room/history` -> `/api/v1/rooms/{room}/history`. */
export const openApiPath = (expressPath: string): string => expressPath.replace(/:([A-Za-z_]+)/g, '{$1}');

function operationId(route: ApiRouteDoc): string {
  const words = route.path
    .replace('/api/v1/', '')
    .split(/[/.]/)
    .map((part) => part.replace(/^:/, 'by-'))
    .join('-');
  return `${route.method}-${words}`.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

/** Without the keywords a component or a parameter must not carry on its own ($schema, a fragment $id). */
function bare(schema: JsonSchema): JsonSchema {
  const { $schema: _schema, $id: _id, ...rest } = schema;
  return rest;
}

export function buildOpenApiDocument(version: string): JsonSchema {
  // Every named schema goes through one registry, so shared ones (JSON values) are one component.
  const registry = z.registry<{ id: string }>();
  const named = new Map<z.ZodType, string>();
  const name = (schema: z.ZodType, id: string): string => {
    const existing = named.get(schema);
    if (existing !== undefined) return existing;
    named.set(schema, id);
    registry.add(schema, { id });
    return id;
  };
  name(publicationDataSchema, 'JsonValue');
  name(apiErrorResponseSchema, 'Error');
  const routeParts = API_ROUTES.map((route) => ({
    route,
    bodyId: route.body === undefined ? null : name(route.body.schema, route.body.name),
    responses: Object.entries(route.responses).map(([id, schema]) => name(schema, id)),
  }));
  const paths: Record<string, Record<string, unknown>> = {};

  const uri = (id: string): string => `#/components/schemas/${id}`;
  const generated = z.toJSONSchema(registry, { io: 'input', uri, target: 'draft-2020-12' }) as { schemas: Record<string, JsonSchema> };
  const schemas = Object.fromEntries(Object.entries(generated.schemas).map(([id, schema]) => [id, bare(schema)]));
  const inline = (schema: z.ZodType): JsonSchema => bare(z.toJSONSchema(schema, { io: 'input', target: 'draft-2020-12' }) as JsonSchema);
  const ref = (id: string): JsonSchema => ({ $ref: uri(id) });

  for (const { route, bodyId, responses } of routeParts) {
    const parameters: unknown[] = [];
    for (const [location, schema] of [
      ['path', route.params],
      ['query', route.query],
    ] as const) {
      if (schema === undefined) continue;
      for (const [field, fieldSchema] of Object.entries(schema.shape as Record<string, z.ZodType>)) {
        const optional = fieldSchema.safeParse(undefined).success;
        parameters.push({ name: field, in: location, required: location === 'path' || !optional, schema: inline(fieldSchema) });
      }
    }
    const success = responses.length === 1 ? ref(responses[0] as string) : { oneOf: responses.map(ref) };
    const operation: Record<string, unknown> = {
      operationId: operationId(route),
      summary: route.summary,
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(bodyId === null ? {} : { requestBody: { required: route.body?.required ?? true, content: { 'application/json': { schema: ref(bodyId) } } } }),
      responses: {
        200: { description: 'ok', content: { 'application/json': { schema: success } } },
        ...Object.fromEntries(
          errorStatuses(route).map((status) => [status, { description: ERROR_DESCRIPTIONS[status], content: { 'application/json': { schema: ref('Error') } } }]),
        ),
      },
      security: route.public === true ? [] : [{ apiKey: [] }],
    };
    const path = openApiPath(route.path);
    paths[path] = { ...paths[path], [route.method]: operation };
  }

  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: 'Roomcast backend API',
      version,
      description:
        'What a backend asks of a Roomcast gateway. Every answer is `{ ok: true, ... }` or `{ ok: false, error: { code, message, retryable } }`; every route but this document needs `Authorization: Bearer <API key>` (API_KEYS).',
    },
    security: [{ apiKey: [] }],
    paths,
    components: {
      schemas,
      securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'One of API_KEYS' } },
    },
  };
}
