/** orderTransitions (server/integration/webhook-order.ts): two nodes' racing appends, put back in order within a batch. */
import { expect } from 'chai';
import type { WebhookEvent } from '../../shared/index.js';
import { orderTransitions } from '../../server/integration/webhook-order.js';

const event = (type: WebhookEvent['type'], room: string, tag = ''): WebhookEvent => ({ id: `${type}-${room}-${tag}`, ts: 1, namespace: '/', room, type }) as WebhookEvent;
const ids = (events: WebhookEvent[]): string[] => events.map((e) => e.id);

describe('webhook batch order (orderTransitions)', () => {
  it('a room.occupied behind joins of its room (another node was quicker to append) moves before them; other rooms stay put', () => {
    const batch = [event('member.joined', 'r', 'b1'), event('member.joined', 'other', 'x'), event('member.joined', 'r', 'b2'), event('room.occupied', 'r'), event('member.joined', 'r', 'a1')];
    expect(ids(orderTransitions(batch))).to.deep.equal(['room.occupied-r-', 'member.joined-r-b1', 'member.joined-other-x', 'member.joined-r-b2', 'member.joined-r-a1']);
  });

  it('a room.vacated ahead of leaves of its room moves after them', () => {
    const batch = [event('member.left', 'r', 'a1'), event('room.vacated', 'r'), event('member.left', 'r', 'b1'), event('room.occupied', 'other')];
    expect(ids(orderTransitions(batch))).to.deep.equal(['member.left-r-a1', 'member.left-r-b1', 'room.vacated-r-', 'room.occupied-other-']);
  });

  it('does not move a transition past another kind of event of its room (another cycle, a publication)', () => {
    const cycles = [event('member.joined', 'r', 'old'), event('member.left', 'r', 'old'), event('room.vacated', 'r', '1'), event('room.occupied', 'r', '2'), event('member.joined', 'r', 'new')];
    expect(ids(orderTransitions(cycles))).to.deep.equal(ids(cycles));
    const published = [event('member.joined', 'r', 'b'), event('publication', 'r'), event('room.occupied', 'r')];
    expect(ids(orderTransitions(published))).to.deep.equal(['member.joined-r-b', 'publication-r-', 'room.occupied-r-']);
  });

  it('keeps an ordered batch as it is', () => {
    const batch = [event('room.occupied', 'r'), event('member.joined', 'r', 'a'), event('member.left', 'r', 'a'), event('room.vacated', 'r')];
    expect(ids(orderTransitions(batch))).to.deep.equal(ids(batch));
  });
});
