import {
  type EncodedEvent,
  SSE_KEEPALIVE_COMMENT,
  SSE_OPEN_COMMENT,
  type SendResult,
  type SseEndCode,
  encodeSseComment,
  encodeSseEvent,
  encodeSseId,
  encodeSseReset,
  encodeSseRetry,
} from '@relaykit/contracts';
import type { Principal } from './auth.js';
import { type BacklogSink, replayLowWater, sendPaced } from './backlog.js';
import { type Expiring, NO_EXPIRY, expiryTimer } from './expiry.js';
import { SSE_RESPONSE_HEADERS } from './http-util.js';
import type { EncodedPresence, PresenceWatcher } from './presence-hub.js';
import type { Session, SessionHost } from './session-host.js';

/** Names an SSE stream's connection, as presence lists it (a WebSocket's is in its welcome frame). */
export const CONNECTION_ID_HEADER = 'relaykit-connection-id';

const utf8 = new TextEncoder();
const KEEPALIVE = utf8.encode(encodeSseComment(SSE_KEEPALIVE_COMMENT));
/** The `event: error` that precedes every server-side end of a stream, encoded once per code. */
const endEvents = new Map<SseEndCode, Uint8Array>();
function endEventFor(code: SseEndCode): Uint8Array {
  let bytes = endEvents.get(code);
  if (!bytes) endEvents.set(code, (bytes = utf8.encode(encodeSseEvent({ event: 'error', data: JSON.stringify({ code }) }))));
  return bytes;
}
/** The opening comment and retry hint, encoded once per retry value: every stream sends the same bytes. */
let preamble: { retryMs: number; bytes: Uint8Array } | undefined;
function preambleFor(retryMs: number): Uint8Array {
  if (preamble?.retryMs !== retryMs) preamble = { retryMs, bytes: utf8.encode(encodeSseComment(SSE_OPEN_COMMENT) + encodeSseRetry(retryMs)) };
  return preamble.bytes;
}

/** The runtime's response stream, reduced to what an SSE session needs. */
export interface SseSink {
  /** Writes bytes; the result follows Bun's convention (see SendResult). */
  write(chunk: Uint8Array): SendResult;
  /** Ends the response so the client reconnects. */
  end(): void;
  /** Bytes written but not yet flushed to the socket. */
  readonly bufferedAmount: number;
}

/** One Server-Sent Events stream: topics fixed at connect, optional resume, then live events. */
export class SseSession implements Session, BacklogSink, PresenceWatcher, Expiring {
  readonly transport = 'sse' as const;
  closed = false;
  private sink: SseSink | undefined;
  private cancelExpiry: () => void = NO_EXPIRY;
  /** Why the server ended the stream, for a stream ended before it could take bytes. */
  private endedWith: SseEndCode | undefined;
  private opened = false;

  constructor(
    private readonly host: SessionHost,
    readonly topics: readonly string[],
    private readonly lastEventId: string | undefined,
    /** The token's end (ms since the epoch): the stream ends there with `token_expired`. */
    private readonly expiresAt?: number,
    /** SSE_RESPONSE_HEADERS, or with the origin grant of ALLOWED_ORIGINS; responseHeaders adds the connection id. */
    readonly baseHeaders: Readonly<Record<string, string>> = SSE_RESPONSE_HEADERS,
    readonly id = '',
    /** The user presence names (the token's subject), absent when auth is off. */
    private readonly user?: Principal['id'],
    /** `presence=1`: the stream gets its topics' joins and leaves. */
    private readonly watchesPresence = false,
  ) {}

  /** The stream's response headers, its connection id among them (made on demand: not kept per stream). */
  get responseHeaders(): Readonly<Record<string, string>> {
    return this.id ? { ...this.baseHeaders, [CONNECTION_ID_HEADER]: this.id } : this.baseHeaders;
  }

  /** Call when the stream can take bytes: joins, then sends the preamble, the replay, and goes live. */
  async start(sink: SseSink): Promise<void> {
    this.sink = sink;
    if (this.watchesPresence && !this.endedWith) {
      // Before the opening comment: from then on the client hears every join and leave.
      try {
        await Promise.all(this.topics.map((topic) => this.host.presence.watch(topic, this)));
      } catch (error) {
        this.host.log.error('broker failed while opening an SSE stream', { error });
        this.end('broker_unavailable');
        return;
      }
      if (this.closed) return;
    }
    if (this.endedWith) {
      // Ended (a shutdown) between its admission and its first byte: it still hears why.
      this.open(sink);
      sink.write(endEventFor(this.endedWith));
      sink.end();
      return;
    }
    this.cancelExpiry = expiryTimer(this.expiresAt, this);
    let join;
    try {
      join = await this.host.hub.join(this, this.topics, this.lastEventId);
    } catch (error) {
      this.host.log.error('broker failed while opening an SSE stream', { error });
      this.end('broker_unavailable');
      return;
    }
    if (!join) return;
    // A member from its opening comment on, as a WebSocket is from its `subscribed`: a client that
    // reads the topic's presence once the stream is open finds itself there.
    const since = Date.now();
    for (const topic of this.topics) {
      this.host.presence.enter(topic, { connectionId: this.id, ...(this.user === undefined ? {} : { user: this.user }), transport: 'sse', since });
    }
    // Only now, with the join made: a client that publishes as soon as it reads the opening comment
    // must get that event (in Redis mode the join waits on Redis, and a comment sent before it let
    // such an event slip in ahead of the stream's position).
    this.open(sink);
    const { position, resetTopics } = join;
    // A fresh stream announces where it starts, after the events that position already counts;
    // a resumed one keeps the client's id until its replay.
    if (this.lastEventId === undefined) {
      for (const event of join.takeCounted()) sink.write(event.sse);
      sink.write(utf8.encode(encodeSseId(position)));
    }
    if (resetTopics.length > 0) {
      sink.write(utf8.encode(encodeSseReset(position, { code: 'history_unavailable', topics: [...resetTopics] })));
    }
    const ready = join;
    sendPaced(ready, this, replayLowWater(this.host.config.maxBufferedBytes), () => ready.goLive(this.topics));
  }

  /** The opening comment and retry hint, once: every stream starts with them, even one that only hears why it ended. */
  private open(sink: SseSink): void {
    if (this.opened) return;
    this.opened = true;
    sink.write(preambleFor(this.host.config.sseRetryMs));
  }

  get bufferedAmount(): number {
    return this.sink?.bufferedAmount ?? 0;
  }

  wants(): boolean {
    return true;
  }

  sendBacklog(event: EncodedEvent): void {
    if (!this.closed) this.sink?.write(event.sse);
  }

  /** Ends the stream as a slow consumer; called by `deliver` and by the hub (see TopicHolder). */
  dropSlowConsumer(): void {
    if (this.closed) return;
    this.host.metrics.slowConsumerCloses++;
    this.host.log.info('slow consumer closed', { transport: 'sse', bufferedBytes: this.bufferedAmount });
    this.end('slow_consumer');
  }

  deliver(event: EncodedEvent): SendResult {
    const sink = this.sink;
    if (!sink || this.closed) return 0;
    const result = sink.write(event.sse);
    if (result === -1 && sink.bufferedAmount > this.host.config.maxBufferedBytes) this.dropSlowConsumer();
    return result;
  }

  /** One heartbeat: a comment that keeps proxies and idle timers from closing the stream. */
  beat(): void {
    // Not before the opening comment, which must be the stream's first bytes (a client takes the first comment as the open).
    if (this.sink && this.opened && !this.closed) this.sink.write(KEEPALIVE);
  }

  /** A final `retry:` hint, so clients spread their reconnects over SSE_RETRY_MS, then the end. */
  shutdown(): void {
    // A stream still opening gets the hint with its preamble, from end().
    if (this.sink && !this.closed && this.opened) this.sink.write(utf8.encode(encodeSseRetry(this.host.config.sseRetryMs)));
    this.end('shutting_down');
  }

  holds(topic: string): boolean {
    return this.topics.includes(topic);
  }

  /** The broker may have lost events of a topic this stream holds: say so, then end (it resumes). */
  resumeRequired(): void {
    this.end('resume_required');
  }

  /** The token reached its `exp` (called by its expiry timer): the client reconnects with a new token and resumes. */
  expire(): void {
    this.end('token_expired');
  }

  /**
   * Every server-side end of a stream (shutdown, slow consumer, broker gap, broker failure) sends
   * `event: error` with `{"code":...}` first, so a client can tell why; its EventSource then
   * reconnects after `retry` and resumes.
   */
  end(code: SseEndCode): void {
    if (this.closed) return;
    this.endedWith = code;
    if (this.sink) {
      this.open(this.sink);
      this.sink.write(endEventFor(code));
      this.sink.end();
    }
    this.onClose();
  }

  /** The client went away or the stream ended. Safe to call more than once. */
  onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.cancelExpiry();
    this.host.forget(this);
    for (const topic of this.topics) {
      this.host.hub.leave(this, topic);
      if (this.watchesPresence) this.host.presence.unwatch(topic, this);
      // A stream closed before its opening comment was never entered: removing it changes nothing.
      this.host.presence.exit(topic, this.id);
    }
  }

  /** A join or a leave of its topics (`presence=1`): an `event: presence` without `id:`. */
  presence(change: EncodedPresence): void {
    // A change heard while the stream is still joining is one a read after its opening comment already reflects.
    if (this.opened && !this.closed) this.sink?.write(change.sse);
  }
}
