import type { EncodedEvent } from '@relaykit/contracts';
import type { Join } from './hub.js';

/** A connection sending a join's backlog: what pacing needs of it. */
export interface BacklogSink {
  readonly closed: boolean;
  /** Bytes accepted but not yet written to the socket (the same figure MAX_BUFFERED_BYTES bounds). */
  readonly bufferedAmount: number;
  /** Whether the connection still holds the topic (it may leave one while its replay is sent). */
  wants(topic: string): boolean;
  /** Sends one backlog event; pacing keeps the send buffer bounded, so no slow-consumer check. */
  sendBacklog(event: EncodedEvent): void;
}

/** The most one pacing step sends: runtimes that write after the turn (Deno) see none of it as buffered. */
const STEP_BYTES = 256 * 1024;
const FIRST_RETRY_MS = 2;
const MAX_RETRY_MS = 100;

/**
 * Sends a join's backlog as fast as the client reads it, then goes live. While the connection's
 * send buffer is above `lowWater`, it waits (polling the buffer, backing off while the client
 * stays stalled), so a client resuming a large history never makes the server queue it whole:
 * memory per connection stays near `lowWater`. Closing with 4008 instead would loop, since the
 * client would return with the same id. Live events meanwhile wait in the join, bounded there.
 * An empty backlog goes live in the same turn, as a fresh subscribe always does.
 */
export function sendPaced(join: Join, sink: BacklogSink, lowWater: number, goLive: () => void): void {
  let retryMs = FIRST_RETRY_MS;
  const step = (): void => {
    if (sink.closed) return join.end();
    let sent = 0;
    while (sent < STEP_BYTES && sink.bufferedAmount <= lowWater) {
      const event = join.next();
      if (!event) return goLive();
      if (!sink.wants(event.envelope.topic)) continue;
      sink.sendBacklog(event);
      sent += event.ws.length;
    }
    retryMs = sent > 0 ? FIRST_RETRY_MS : Math.min(MAX_RETRY_MS, retryMs * 2);
    setTimeout(step, sink.bufferedAmount > lowWater ? retryMs : 0);
  };
  step();
}

/** How full a connection's send buffer may get from a replay before pacing waits for the client. */
export function replayLowWater(maxBufferedBytes: number): number {
  return Math.min(1024 * 1024, maxBufferedBytes >>> 1);
}
