/** Namespaces and their rules: declared in NAMESPACES_FILE, or the two defaults. */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { DEFAULT_NAMESPACE, LIVE_NAMESPACE, namespaceNameSchema } from '../../shared/index.js';
import { ConfigError } from './config-error.js';

const roomPatternSchema = z.string().regex(/^[A-Za-z0-9_\-:.@*]{1,200}$/, 'a room pattern uses room characters and *');

const namespaceRulesSchema = z.strictObject({
  name: namespaceNameSchema,
  /** Members may publish with room:publish (else only the server, over HTTP, publishes). */
  clientPublish: z.boolean().default(true),
  /** Join/leave events and presence:list in this namespace. */
  presence: z.boolean().default(true),
  /** Rooms any authenticated user may join, in addition to the token's `rooms` claim. */
  publicRooms: z.array(roomPatternSchema).max(1000).default([]),
  /** Client publications of this namespace are sent to WEBHOOK_URL as `publication` events. */
  webhookPublications: z.boolean().default(false),
  /**
   * Where client publications of this namespace are asked about before they are stored: a URL (http/https),
   * `false` to skip PUBLISH_PROXY_URL here, or absent to use PUBLISH_PROXY_URL (when set).
   */
  publishProxy: z.union([z.literal(false), z.url({ protocol: /^https?$/, error: 'publishProxy must be an http(s) URL or false' })]).optional(),
});

const namespacesFileSchema = z.strictObject({
  namespaces: z
    .array(namespaceRulesSchema)
    .min(1)
    .refine((list) => new Set(list.map((ns) => ns.name)).size === list.length, 'namespace names must be unique'),
});

export type NamespaceRules = Readonly<z.infer<typeof namespaceRulesSchema>>;

export const DEFAULT_NAMESPACES: readonly NamespaceRules[] = [
  { name: DEFAULT_NAMESPACE, clientPublish: true, presence: true, publicRooms: [], webhookPublications: false },
  { name: LIVE_NAMESPACE, clientPublish: false, presence: false, publicRooms: [], webhookPublications: false },
];

export function loadNamespaces(file: string | undefined): readonly NamespaceRules[] {
  if (file === undefined || file === '') return DEFAULT_NAMESPACES;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError('NAMESPACES_FILE', `cannot read JSON from ${file}: ${(error as Error).message}`);
  }
  const parsed = namespacesFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue ? issue.path.join('.') : '';
    throw new ConfigError('NAMESPACES_FILE', `${file}: ${where ? `${where}: ` : ''}${issue?.message ?? 'invalid'}`);
  }
  return parsed.data.namespaces;
}
