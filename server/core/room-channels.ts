/**
 * The per-room channel subscriptions of a pub/sub backend whose subscriptions
 * are asynchronous and per room (Redis Cluster's sharded pub/sub): the
 * Socket.IO transport says which rooms the node serves and waits, before a
 * room's position is read, until the room's channel is live.
 */
export type ChannelListener = (message: Buffer, channel: Buffer) => void;

export interface RoomChannels {
  /** Records whether the node needs `channel`; the subscription follows. */
  want(channel: string, listener: ChannelListener, wanted: boolean): void;
  /** Resolves once `channel` is subscribed and its connection is up; UNAVAILABLE (retryable) otherwise. */
  whenActive(channel: string): Promise<void>;
  /** Compares the channels the node serves with the live subscriptions and repairs them; returns the repairs. */
  reconcile(expected: ReadonlyMap<string, ChannelListener>): number;
}
