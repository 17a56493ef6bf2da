/**
 * Whether a send request's writes reached the replicas REDIS_MIN_REPLICAS_ACK
 * asks for (ReplicaAck, libs/store): the store's script went through the
 * repositories' connection, the queue job through the Queue's, so both wait.
 */
import { Inject, Injectable } from '@nestjs/common';
import { ReplicaAck, type RedisClient as Redis } from '@lib/store';
import { QUEUE_REDIS, REDIS } from './tokens';

@Injectable()
export class WriteAcknowledgement {
  constructor(
    private readonly ack: ReplicaAck,
    @Inject(REDIS) private readonly store: Redis,
    @Inject(QUEUE_REDIS) private readonly queue: Redis,
  ) {}

  /** True when no replica is asked for, or once both connections' writes reached them; false after the timeout. */
  replicated(): Promise<boolean> {
    return this.ack.replicated([this.store, this.queue]);
  }
}
