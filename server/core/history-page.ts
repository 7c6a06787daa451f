/**
 * The byte budget of one history page, for every reader (room:history, a join's
 * missed[], GET /api/v1/rooms/:room/history): at most about
 * HISTORY_PAGE_MAX_BYTES of data, always at least one message; the reader pages
 * on from the last offset it got.
 */
import { HISTORY_PAGE_MAX_BYTES, type Message } from '../../shared/index.js';
import { payloadBytes } from './publisher.js';

/** The longest prefix of `messages` within the page's byte budget (at least one message). */
export function capPage(messages: Message[]): Message[] {
  let bytes = 0;
  for (let index = 0; index < messages.length; index += 1) {
    bytes += payloadBytes((messages[index] as Message).data);
    if (bytes > HISTORY_PAGE_MAX_BYTES && index > 0) return messages.slice(0, index);
  }
  return messages;
}
