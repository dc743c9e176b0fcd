import {
  type EncodedEvent,
  type Envelope,
  POLL_PAGE_MAX_BYTES,
  POLL_PAGE_MAX_EVENTS,
  type PollResponse,
  type ResetSignal,
  type SendResult,
} from '@relaykit/contracts';
import type { SessionHost } from './session-host.js';

/**
 * One long poll of one topic: resume from `after` (or from now), answer as soon as anything is
 * there, else wait for the first live event, the timeout, or the client leaving. An answer is one
 * page (POLL_PAGE_MAX_EVENTS, POLL_PAGE_MAX_BYTES) and its cursor chains to the rest, so a poll
 * into a large history never builds the whole of it in memory.
 */
export class PollWaiter {
  readonly transport = 'poll' as const;
  closed = false;
  private readonly events: Envelope[] = [];
  private bytes = 0;
  private wake: (() => void) | undefined;
  private interrupted = false;

  constructor(
    private readonly host: SessionHost,
    readonly topic: string,
  ) {}

  /**
   * Answer now with what is held (a valid page and its cursor), taking nothing more: the broker
   * may have lost events (the cursor stops before the gap), or the server is shutting down.
   */
  answerNow(): void {
    this.interrupted = true;
    this.wake?.();
  }

  /** Adds an event unless the page is full; a page always takes its first event. */
  private take(event: EncodedEvent): boolean {
    const size = event.ws.length;
    if (this.events.length >= POLL_PAGE_MAX_EVENTS || (this.events.length > 0 && this.bytes + size > POLL_PAGE_MAX_BYTES)) {
      return false;
    }
    this.events.push(event.envelope);
    this.bytes += size;
    return true;
  }

  deliver(event: EncodedEvent): SendResult {
    // Live events past a full page are not lost: the cursor stops before them, the next poll replays them.
    if (!this.interrupted) this.take(event);
    this.wake?.();
    return 1;
  }

  async run(after: string | undefined, waitMs: number, signal: AbortSignal): Promise<PollResponse> {
    let reset: ResetSignal | undefined;
    let position = after ?? this.host.hub.broker.position();
    const join = await this.host.hub.join(this, [this.topic], after);
    if (join) {
      position = join.position;
      if (join.resetTopics.length > 0) reset = { code: 'history_unavailable', topics: [...join.resetTopics] };
      for (let event = join.next(); event && this.take(event); event = join.next()) {}
      // answerNow may have come while the join was pending (a Redis read): then there is no wait.
      const wait = this.events.length === 0 && !reset && waitMs > 0 && !signal.aborted && !this.interrupted;
      if (wait) join.goLive([this.topic]);
      else join.end();
    }
    if (this.events.length === 0 && !reset && waitMs > 0 && !signal.aborted && !this.interrupted) {
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
    this.host.hub.leave(this, this.topic);
  }
}
