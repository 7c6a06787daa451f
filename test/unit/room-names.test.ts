/** The shared room-name rules (server, SDK, SSE and the HTTP API use them) and what counts as a joined room. */
import { expect } from 'chai';
import { hasJoined } from '../../server/transports/socketio/handlers/membership.js';
import type { RoomcastSocket } from '../../server/transports/socketio/types.js';
import { roomNameProblem, roomNameSchema } from '../../shared/index.js';

describe('room names', () => {
  it('refuses a name shaped like a Socket.IO socket id: exactly 20 characters of [A-Za-z0-9_-]', () => {
    for (const room of ['abcdefghij_-ABCDEF12', 'ABCDEFGHIJKLMNOPQRST', '01234567890123456789', '--------------------']) {
      expect(roomNameProblem(room), room).to.match(/socket id/);
      expect(roomNameSchema.safeParse(room).success, room).to.equal(false);
    }
  });

  it('keeps every other name of room characters', () => {
    for (const room of ['abcdefghij_-ABCDEF1', 'abcdefghij_-ABCDEF123', 'abcdefghij:-ABCDEF12', 'abcdefghij.-ABCDEF12', 'user:abcdefghij_-ABCDEF12', 'a@bcdefghij_-ABCDEF1']) {
      expect(roomNameProblem(room), room).to.equal(null);
      expect(roomNameSchema.safeParse(room).success, room).to.equal(true);
    }
  });
});

describe('membership', () => {
  it("never counts Socket.IO's own per-socket room as joined", () => {
    const socket = { id: 'own-id', rooms: new Set(['own-id', 'project:1']) } as unknown as RoomcastSocket;
    expect(hasJoined(socket, 'own-id')).to.equal(false);
    expect(hasJoined(socket, 'project:1')).to.equal(true);
    expect(hasJoined(socket, 'project:2')).to.equal(false);
  });
});
