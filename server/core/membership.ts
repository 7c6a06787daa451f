/**
 * Who is in which room, for every transport: adds and removes members in the
 * presence store (cluster-wide, which enforces MAX_ROOM_MEMBERS), applies the
 * announce rule once, and tells listeners what changed with typed events:
 *
 * - `joined` / `left`: a connection entered or left a room (also a member of a
 *   dead node removed by the liveness sweeper, and members this node writes
 *   back after a Redis outage);
 * - `occupied` / `vacated`: a room got its first member or lost its last
 *   (`occupied` is emitted before that member's `joined`, `vacated` after the last `left`). The
 *   presence store counts members cluster-wide in the same step as the change,
 *   so exactly one change, on one node, sees a room go from 0 to 1 or 1 to 0.
 *
 * Presence events to the room's members (presence:join / presence:leave) go
 * through a PresenceAnnouncer the transport provides (Socket.IO reaches every
 * node's members through its adapter); they are sent only where the namespace
 * has presence on and the room, counting that member, is within
 * PRESENCE_EVENTS_MAX_MEMBERS.
 */
import { EventEmitter } from 'node:events';
import type { PresenceMember } from '../../shared/index.js';
import { RoomcastError } from '../errors.js';
import { announcesPresence, type PresenceStore, type Removal } from './presence-store.js';

export interface RoomRef {
  namespace: string;
  room: string;
}

export interface MemberChange extends RoomRef {
  member: PresenceMember;
  /** The room's member count counting this member (after a join, before a leave). */
  roomMembers: number;
}

/** Why a member left: it asked (room:leave, a refreshed token, the REST API), its connection closed, or its node died. */
export type LeaveReason = 'leave' | 'disconnect' | 'node-lost';

export interface MemberLeft extends MemberChange {
  reason: LeaveReason;
}

export interface MembershipEvents {
  joined: [MemberChange];
  left: [MemberLeft];
  occupied: [RoomRef];
  vacated: [RoomRef];
}

/** Sends presence:join / presence:leave to a room's members on every node. */
export interface PresenceAnnouncer {
  /** To the room's members; but the one joining, unless `toMemberToo` (a membership written back after an outage). */
  joined(namespace: string, room: string, member: PresenceMember, toMemberToo: boolean): void;
  left(namespace: string, room: string, member: PresenceMember): void;
}

export interface LocalMembership extends RoomRef {
  member: PresenceMember;
}

/**
 * What a presence backend that outlives connections (Redis: the node-liveness
 * sweeper) tells Membership: members it removed for a node that died or wrote
 * back after an outage, and what it asks: this node's own memberships.
 */
export interface MemberChanges {
  removed(namespace: string, room: string, member: PresenceMember, membersBefore: number): void;
  restored(namespace: string, room: string, member: PresenceMember, membersAfter: number): void;
  localMemberships(): LocalMembership[];
}

export interface MembershipOptions {
  presence: PresenceStore;
  /** MAX_ROOM_MEMBERS (0: no limit). */
  maxRoomMembers: number;
  /** PRESENCE_EVENTS_MAX_MEMBERS. */
  presenceEventsMaxMembers: number;
  /** Namespaces with presence on. */
  presenceNamespaces: ReadonlySet<string>;
}

export class Membership extends EventEmitter<MembershipEvents> {
  private announcer: PresenceAnnouncer | null = null;

  constructor(private readonly options: MembershipOptions) {
    super();
  }

  /** The transport that reaches rooms' members; set once it exists (events before that are not announced). */
  announceThrough(announcer: PresenceAnnouncer): void {
    this.announcer = announcer;
  }

  /**
   * Adds a connection to a room; ROOM_FULL when the room has MAX_ROOM_MEMBERS. A member already present
   * changes nothing. `stillOpen` is asked once the store has answered: a connection that closed meanwhile
   * (its own cleanup has already run) is taken out again, unannounced, and the join fails UNAVAILABLE.
   */
  async add(namespace: string, room: string, member: PresenceMember, stillOpen: () => boolean = () => true): Promise<void> {
    const { outcome, members } = await this.options.presence.add(namespace, room, member, this.options.maxRoomMembers);
    if (outcome === 'full') throw new RoomcastError('ROOM_FULL', `${room} has ${this.options.maxRoomMembers} members`);
    if (!stillOpen()) {
      await this.options.presence.remove(namespace, room, member.connectionId);
      throw new RoomcastError('UNAVAILABLE', 'the connection closed during the join');
    }
    if (outcome === 'added') this.entered(namespace, room, member, members, false);
  }

  /** Takes a connection out of a room; nothing happens when it was not in it. */
  async remove(namespace: string, room: string, connectionId: string, reason: LeaveReason = 'leave'): Promise<void> {
    // Carried out past its deadline (the caller was told UNAVAILABLE): the member left all the same.
    const late = (removal: Removal): void => this.exited(namespace, room, removal.member, removal.membersBefore, reason);
    const removal = await this.options.presence.remove(namespace, room, connectionId, late);
    if (removal !== null) this.exited(namespace, room, removal.member, removal.membersBefore, reason);
  }

  /** The room's members on every node. */
  list(namespace: string, room: string): Promise<PresenceMember[]> {
    return this.options.presence.list(namespace, room);
  }

  /** Members the backend removed or wrote back on its own (see MemberChanges). */
  changesFrom(localMemberships: () => LocalMembership[]): MemberChanges {
    return {
      removed: (namespace, room, member, membersBefore) => this.exited(namespace, room, member, membersBefore, 'node-lost'),
      restored: (namespace, room, member, membersAfter) => this.entered(namespace, room, member, membersAfter, true),
      localMemberships,
    };
  }

  private entered(namespace: string, room: string, member: PresenceMember, roomMembers: number, toMemberToo: boolean): void {
    if (this.announces(namespace, roomMembers)) this.announcer?.joined(namespace, room, member, toMemberToo);
    // A room is occupied before its first member is reported in it (webhooks keep this order).
    if (roomMembers === 1) this.emit('occupied', { namespace, room });
    this.emit('joined', { namespace, room, member, roomMembers });
  }

  private exited(namespace: string, room: string, member: PresenceMember, membersBefore: number, reason: LeaveReason): void {
    if (this.announces(namespace, membersBefore)) this.announcer?.left(namespace, room, member);
    this.emit('left', { namespace, room, member, roomMembers: membersBefore, reason });
    if (membersBefore === 1) this.emit('vacated', { namespace, room });
  }

  private announces(namespace: string, roomMembers: number): boolean {
    return this.options.presenceNamespaces.has(namespace) && announcesPresence(this.options.presenceEventsMaxMembers, roomMembers);
  }
}
