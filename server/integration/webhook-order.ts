/**
 * Puts a room's transitions back in their place within one delivery. Each node
 * appends its own events in order, but two nodes' appends race: a member
 * joining on node B right after the first member joined on node A can reach
 * the queue before A's `room.occupied` (and a member leaving on B just before
 * the last one left on A, after A's `room.vacated`). Such racing appends are
 * within a round trip of each other, so they land in the same batch (the
 * dispatcher lingers); here, within a batch:
 *
 * - a `room.occupied` moves before the `member.joined` events of its room
 *   right in front of it (nothing else of that room between): the room had no
 *   member before its occupied, so those joins came after it;
 * - a `room.vacated` moves after the `member.left` events of its room right
 *   behind it: the room was empty only once they had left.
 *
 * Events of other rooms keep their places.
 */
import type { WebhookEvent } from '../../shared/index.js';

const sameRoom = (a: WebhookEvent, b: WebhookEvent): boolean => a.namespace === b.namespace && a.room === b.room;

export function orderTransitions(events: readonly WebhookEvent[]): WebhookEvent[] {
  const ordered = [...events];
  for (let index = 0; index < ordered.length; index += 1) {
    const occupied = ordered[index] as WebhookEvent;
    if (occupied.type !== 'room.occupied') continue;
    let target = index;
    for (let before = index - 1; before >= 0; before -= 1) {
      const event = ordered[before] as WebhookEvent;
      if (!sameRoom(event, occupied)) continue;
      if (event.type !== 'member.joined') break;
      target = before;
    }
    if (target < index) {
      ordered.splice(index, 1);
      ordered.splice(target, 0, occupied);
    }
  }
  for (let index = ordered.length - 1; index >= 0; index -= 1) {
    const vacated = ordered[index] as WebhookEvent;
    if (vacated.type !== 'room.vacated') continue;
    let target = index;
    for (let after = index + 1; after < ordered.length; after += 1) {
      const event = ordered[after] as WebhookEvent;
      if (!sameRoom(event, vacated)) continue;
      if (event.type !== 'member.left') break;
      target = after;
    }
    if (target > index) {
      ordered.splice(index, 1);
      ordered.splice(target, 0, vacated);
    }
  }
  return ordered;
}
