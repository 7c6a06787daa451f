/** `roomcast rooms`: the occupied rooms across the cluster, one JSON line per room, every page. */
import { apiFrom, EXIT, GATEWAY_FLAGS, GATEWAY_HELP, integerFlag, json, parseFlags, type CliIo } from '../cli-io.js';

export const ROOMS_HELP = `Usage: roomcast rooms [--prefix PREFIX] [--limit N] [--namespace NS]

Prints each occupied room as one JSON line { room, members }, following the
gateway's pages to the end (or until --limit rooms are printed).

${GATEWAY_HELP}`;

export async function roomsCommand(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseFlags(argv, { ...GATEWAY_FLAGS, prefix: { type: 'string' }, limit: { type: 'string' }, namespace: { type: 'string' } });
  if (values.help === true) {
    io.out(ROOMS_HELP);
    return EXIT.ok;
  }
  const limit = values.limit === undefined ? undefined : integerFlag('limit', values.limit, 1);
  const api = apiFrom(values, io.env);
  let printed = 0;
  for await (const entry of api.allRooms({
    ...(values.prefix === undefined ? {} : { prefix: values.prefix }),
    ...(values.namespace === undefined ? {} : { namespace: values.namespace }),
    ...(limit === undefined ? {} : { limit }),
  })) {
    if (limit !== undefined && printed >= limit) break;
    io.out(json(entry));
    printed += 1;
  }
  return EXIT.ok;
}
