import type { EncodedEvent, Envelope, PollResponse, SendResult } from '@relaykit/contracts';
import type { Relay } from './relay.js';

/**
 * One long poll of one topic: resume from `after` (or from now), answer as soon as anything is
 * there, else wait for the first live event, the timeout, or the client leaving.
 */
export class PollWaiter {
  readonly transport = 'poll' as const;
  closed = false;
  private readonly events: Envelope[] = [];
  private wake: (() => void) | undefined;

  constructor(
    private readonly relay: Relay,
    private readonly topic: string,
  ) {}

  deliver(event: EncodedEvent): SendResult {
    this.events.push(event.envelope);
    this.wake?.();
    return 1;
  }

  async run(after: string | undefined, waitMs: number, signal: AbortSignal): Promise<PollResponse> {
    const { hub } = this.relay;
    const outcome = await hub.join(this, [this.topic], after);
    if (!outcome) return { events: [], cursor: after ?? this.relay.broker.position() };
    for (const event of outcome.backlog) this.events.push(event.envelope);
    const reset = outcome.resetTopics.length > 0;
    if (this.events.length === 0 && !reset && waitMs > 0 && !signal.aborted) {
      hub.goLive(this, [this.topic], outcome);
    }
    // goLive() may already have delivered events routed while the join was answering.
    if (this.events.length === 0 && !reset && waitMs > 0 && !signal.aborted) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, waitMs);
        signal.addEventListener('abort', done, { once: true });
        this.wake = done;
        function done() {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          resolve();
        }
      });
    }
    this.close();
    const last = this.events[this.events.length - 1];
    const cursor = last?.id ?? (reset ? outcome.position : (after ?? outcome.position));
    return reset
      ? { events: this.events, cursor, reset: { code: 'history_unavailable', topics: outcome.resetTopics } }
      : { events: this.events, cursor };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.relay.hub.leave(this, this.topic);
  }
}
