import { expect } from 'chai';
import fc from 'fast-check';
import { countedRoomPatternMatch, matchesRoomPattern, mayJoinRoom } from '../../server/auth/room-policy.js';

/** The semantics the matcher keeps: the backtracking regex it replaced (safe on the short inputs below). */
function regexMatch(pattern: string, room: string): boolean {
  const body = pattern
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.+');
  return new RegExp(`^${body}$`).test(room);
}

describe('room policy', () => {
  it('matches exact names and * as one or more characters', () => {
    expect(matchesRoomPattern('project:123', 'project:123')).to.equal(true);
    expect(matchesRoomPattern('project:123', 'project:1234')).to.equal(false);
    expect(matchesRoomPattern('org:456:*', 'org:456:a')).to.equal(true);
    expect(matchesRoomPattern('org:456:*', 'org:456:')).to.equal(false);
    expect(matchesRoomPattern('org:*:chat', 'org:9:chat')).to.equal(true);
    expect(matchesRoomPattern('org:*:chat', 'org:9:news')).to.equal(false);
  });

  it('lets a * span separators, and makes every * take at least one character', () => {
    expect(matchesRoomPattern('org:*:chat', 'org:9:x:chat')).to.equal(true);
    expect(matchesRoomPattern('*', 'a')).to.equal(true);
    expect(matchesRoomPattern('*', '')).to.equal(false);
    expect(matchesRoomPattern('a**b', 'axb')).to.equal(false);
    expect(matchesRoomPattern('a**b', 'axyb')).to.equal(true);
    expect(matchesRoomPattern('a*aa', 'aaa')).to.equal(false);
    expect(matchesRoomPattern('a*aa', 'aaaa')).to.equal(true);
    expect(matchesRoomPattern('*:end', ':end')).to.equal(false);
    expect(matchesRoomPattern('x:*:*:end', 'x:a:b:end')).to.equal(true);
    expect(matchesRoomPattern('x:*:*:end', 'x:a:end')).to.equal(false);
  });

  it('treats regex characters in patterns literally', () => {
    expect(matchesRoomPattern('a.b', 'aXb')).to.equal(false);
    expect(matchesRoomPattern('a.b:*', 'a.b:1')).to.equal(true);
  });

  it('agrees with the regex semantics it replaced', () => {
    const text = (max: number) => fc.string({ unit: fc.constantFrom('a', 'b', ':'), maxLength: max });
    const pattern = fc.string({ unit: fc.constantFrom('a', 'b', ':', '*'), minLength: 1, maxLength: 8 });
    fc.assert(
      fc.property(pattern, text(12), (p, room) => matchesRoomPattern(p, room) === regexMatch(p, room)),
      { numRuns: 5000 },
    );
  });

  it('takes a number of steps linear in the pattern and the room, however many stars (no backtracking)', () => {
    // The regex took 370 ms for the first of these at 200 characters, 14 s for the second.
    const patterns = ['org:*:*:*:*:end', 'org:*:*:*:*:*:end', '*:*:*:*:*:*:*:*:*:*:x', `${'a*'.repeat(50)}b`, `*${'a'.repeat(99)}b*`, '*aab*aab*aab*aac'];
    const rooms = [`org:${':'.repeat(196)}`, `org:${'a:'.repeat(98)}`, 'a'.repeat(200), `${'aab'.repeat(66)}aa`, `${'a'.repeat(199)}b`];
    let total = 0;
    for (const pattern of patterns) {
      for (const room of rooms) {
        const { steps } = countedRoomPatternMatch(pattern, room);
        expect(steps, `${pattern} ~ ${room}`).to.be.at.most(3 * (pattern.length + room.length));
        total += steps;
      }
    }
    expect(total).to.be.greaterThan(0);
  });

  it('always allows the personal room, and only that one', () => {
    expect(mayJoinRoom('alice', [], [], 'user:alice')).to.equal(true);
    expect(mayJoinRoom('alice', [], [], 'user:bob')).to.equal(false);
    expect(mayJoinRoom('alice', [], ['lobby'], 'lobby')).to.equal(true);
  });
});
