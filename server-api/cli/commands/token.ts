/** `roomcast token`: mints a connection token (mintToken) and prints it. */
import { mintToken } from '../../token.js';
import { EXIT, integerFlag, listFlag, parseFlags, UsageError, type CliIo } from '../cli-io.js';

export const TOKEN_HELP = `Usage: roomcast token --sub USER [--rooms PATTERNS] [--subscribe ROOMS] [--ttl SECONDS]

Prints a connection token (HS256 JWT) the gateway accepts.

  --sub USER          the user (the token's sub)
  --rooms PATTERNS    room patterns the user may join, comma separated: 'project:1,org:7:*'
  --subscribe ROOMS   rooms the server joins at connect, comma separated
  --ttl SECONDS       lifetime (default 3600)
  --issuer ISS, --audience AUD   when the gateway sets JWT_ISSUER / JWT_AUDIENCE
  --secret SECRET     the gateway's JWT_SECRET (default $JWT_SECRET)`;

export async function tokenCommand(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseFlags(argv, {
    sub: { type: 'string' },
    rooms: { type: 'string', multiple: true },
    subscribe: { type: 'string', multiple: true },
    ttl: { type: 'string' },
    issuer: { type: 'string' },
    audience: { type: 'string' },
    secret: { type: 'string' },
  });
  if (values.help === true) {
    io.out(TOKEN_HELP);
    return EXIT.ok;
  }
  if (values.sub === undefined || values.sub === '') throw new UsageError('--sub is required');
  const secret = values.secret ?? io.env.JWT_SECRET;
  if (secret === undefined || secret === '') throw new UsageError('the secret is missing: --secret or JWT_SECRET');
  const rooms = listFlag(values.rooms);
  const subscribe = listFlag(values.subscribe);
  const token = await mintToken({
    secret,
    sub: values.sub,
    ttl: values.ttl === undefined ? 3600 : integerFlag('ttl', values.ttl, 1),
    ...(rooms === undefined ? {} : { rooms }),
    ...(subscribe === undefined ? {} : { subscribe }),
    ...(values.issuer === undefined ? {} : { issuer: values.issuer }),
    ...(values.audience === undefined ? {} : { audience: values.audience }),
  });
  io.out(token);
  return EXIT.ok;
}
