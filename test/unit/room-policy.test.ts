import { expect } from 'chai';
import { matchesRoomPattern, mayJoinRoom } from '../../server/auth/room-policy.js';

describe('room policy', () => {
  it('matches exact names and * as one or more characters', () => {
    expect(matchesRoomPattern('project:123', 'project:123')).to.equal(true);
    expect(matchesRoomPattern('project:123', 'project:1234')).to.equal(false);
    expect(matchesRoomPattern('org:456:*', 'org:456:a')).to.equal(true);
    expect(matchesRoomPattern('org:456:*', 'org:456:')).to.equal(false);
    expect(matchesRoomPattern('org:*:chat', 'org:9:chat')).to.equal(true);
    expect(matchesRoomPattern('org:*:chat', 'org:9:news')).to.equal(false);
  });

  it('treats regex characters in patterns literally', () => {
    expect(matchesRoomPattern('a.b', 'aXb')).to.equal(false);
    expect(matchesRoomPattern('a.b:*', 'a.b:1')).to.equal(true);
  });

  it('always allows the personal room, and only that one', () => {
    expect(mayJoinRoom('alice', [], [], 'user:alice')).to.equal(true);
    expect(mayJoinRoom('alice', [], [], 'user:bob')).to.equal(false);
    expect(mayJoinRoom('alice', [], ['lobby'], 'lobby')).to.equal(true);
  });
});
