import type { EncodedEvent, Envelope, PollResponse, ResetSignal, SendResult } from '@relaykit/contracts';
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
    let reset: ResetSignal | undefined;
    let position = after ?? this.relay.broker.position();
    await this.relay.hub.join(this, [this.topic], after, (outcome) => {
      position = outcome.position;
      if (outcome.resetTopics.length > 0) reset = { code: 'history_unavailable', topics: outcome.resetTopics };
      for (const event of outcome.backlog) this.events.push(event.envelope);
      const wait = this.events.length === 0 && !reset && waitMs > 0 && !signal.aborted;
      return wait ? [this.topic] : [];
    });
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
    const cursor = last?.id ?? (reset || after === undefined ? position : after);
    return reset ? { events: this.events, cursor, reset } : { events: this.events, cursor };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.relay.hub.leave(this, this.topic);
  }
}
