/**
 * The core's Fanout and PresenceAnnouncer over Socket.IO: a room's members on
 * every node are reached through the namespace's adapter (Redis pub/sub with
 * many nodes), so one emit here is one publication for the whole cluster.
 */
import type { Message } from '../../../shared/index.js';
import type { Fanout } from '../../core/fanout.js';
import type { PresenceAnnouncer } from '../../core/membership.js';
import type { RoomcastServer } from './types.js';

export function socketFanout(io: RoomcastServer): Fanout {
  return {
    broadcast(namespace: string, message: Message): void {
      io.of(namespace).to(message.room).emit('message', message);
    },
  };
}

export function socketAnnouncer(io: RoomcastServer): PresenceAnnouncer {
  return {
    joined(namespace, room, member, toMemberToo) {
      const members = io.of(namespace).to(room);
      (toMemberToo ? members : members.except(member.connectionId)).emit('presence:join', { room, member });
    },
    left(namespace, room, member) {
      io.of(namespace).to(room).emit('presence:leave', { room, member });
    },
  };
}
