/** `roomcast publish`: one publication into one room or several; prints the gateway's results. */
import type { JsonValue } from '../../api-types.js';
import { apiFrom, EXIT, GATEWAY_FLAGS, GATEWAY_HELP, json, listFlag, parseFlags, UsageError, type CliIo } from '../cli-io.js';

export const PUBLISH_HELP = `Usage: roomcast publish (--room ROOM | --rooms A,B) --event EVENT [--data JSON] [--namespace NS]

Publishes through the gateway's HTTP API and prints { results, idempotencyKey } as JSON.
Exits 1 when the gateway refused it (or refused any of --rooms).

  --room ROOM         one room
  --rooms A,B         several rooms, comma separated (each stored or refused on its own)
  --event EVENT       the event name
  --data JSON         the payload, JSON (default null)
  --namespace NS      default /
  --idempotency-key K default: a new UUID, kept across retries

${GATEWAY_HELP}`;

export async function publishCommand(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseFlags(argv, {
    ...GATEWAY_FLAGS,
    room: { type: 'string' },
    rooms: { type: 'string', multiple: true },
    event: { type: 'string' },
    data: { type: 'string' },
    namespace: { type: 'string' },
    'idempotency-key': { type: 'string' },
  });
  if (values.help === true) {
    io.out(PUBLISH_HELP);
    return EXIT.ok;
  }
  const rooms = listFlag(values.rooms);
  if ((values.room === undefined) === (rooms === undefined)) throw new UsageError('give exactly one of --room and --rooms');
  if (rooms !== undefined && rooms.length === 0) throw new UsageError('--rooms lists no room');
  if (values.event === undefined) throw new UsageError('--event is required');
  let data: JsonValue = null;
  if (values.data !== undefined) {
    try {
      data = JSON.parse(values.data) as JsonValue;
    } catch {
      throw new UsageError(`--data is not JSON: ${values.data}`);
    }
  }
  const api = apiFrom(values, io.env);
  const common = {
    event: values.event,
    data,
    ...(values.namespace === undefined ? {} : { namespace: values.namespace }),
    ...(values['idempotency-key'] === undefined ? {} : { idempotencyKey: values['idempotency-key'] }),
  };
  const outcome = await api.publish(rooms === undefined ? { ...common, room: values.room as string } : { ...common, rooms });
  io.out(json(outcome));
  return outcome.results.some((result) => 'error' in result) ? EXIT.refused : EXIT.ok;
}
