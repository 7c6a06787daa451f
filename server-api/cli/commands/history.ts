/** `roomcast history`: a page of a room's history, printed as JSON. */
import { apiFrom, EXIT, GATEWAY_FLAGS, GATEWAY_HELP, integerFlag, json, parseFlags, UsageError, type CliIo } from '../cli-io.js';

export const HISTORY_HELP = `Usage: roomcast history --room ROOM [--since=EPOCH:OFFSET] [--limit N] [--namespace NS]

Prints { epoch, offset, recovered, messages } as JSON: what the room stored after
--since (exclusive), oldest first; without --since, from the oldest kept.
Write --since=EPOCH:OFFSET with "=": an epoch may start with "-".

${GATEWAY_HELP}`;

export async function historyCommand(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseFlags(argv, { ...GATEWAY_FLAGS, room: { type: 'string' }, since: { type: 'string' }, limit: { type: 'string' }, namespace: { type: 'string' } });
  if (values.help === true) {
    io.out(HISTORY_HELP);
    return EXIT.ok;
  }
  if (values.room === undefined) throw new UsageError('--room is required');
  let since: { epoch: string; offset: number } | undefined;
  if (values.since !== undefined) {
    // Epochs are opaque: the offset is what follows the last colon.
    const colon = values.since.lastIndexOf(':');
    const offset = values.since.slice(colon + 1);
    if (colon <= 0 || !/^\d+$/.test(offset)) throw new UsageError(`--since must be EPOCH:OFFSET, not ${values.since}`);
    since = { epoch: values.since.slice(0, colon), offset: Number(offset) };
  }
  const api = apiFrom(values, io.env);
  const page = await api.history({
    room: values.room,
    ...(since === undefined ? {} : { since }),
    ...(values.limit === undefined ? {} : { limit: integerFlag('limit', values.limit, 1) }),
    ...(values.namespace === undefined ? {} : { namespace: values.namespace }),
  });
  io.out(json(page));
  return EXIT.ok;
}
