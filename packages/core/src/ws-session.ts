import {
  CLIENT_FRAME_TYPES,
  ClientFrame,
  CloseCode,
  HEARTBEAT_TIMEOUT_REASON,
  MESSAGE_TOO_BIG_REASON,
  RATE_LIMITED_REASON,
  RATE_LIMIT_STRIKES,
  RATE_LIMIT_STRIKE_WINDOW_MS,
  SHUTDOWN_REASON,
  TOKEN_EXPIRED_REASON,
  type EncodedEvent,
  type ErrorCode,
  type PresenceRequestFrame,
  type PresenceMember,
  type PublishFrame,
  type RefreshFrame,
  type SendResult,
  type ServerFrame,
  type SubscribeFrame,
  type UnsubscribeFrame,
  PROTOCOL_VERSION,
  Ref,
} from '@relaykit/contracts';
import { type Principal, isAnonymous } from './auth.js';
import { type BacklogSink, replayLowWater, sendPaced } from './backlog.js';
import { RelayError, asRelayError } from './errors.js';
import { type Expiring, NO_EXPIRY, expiryTimer } from './expiry.js';
import { nestsDeeperThan } from './json-depth.js';
import type { EncodedPresence, PresenceWatcher } from './presence-hub.js';
import type { Session, SessionHost } from './session-host.js';
import type { Bucket, RateLimit } from './token-bucket.js';
import { TopicSet } from './topic-set.js';
import { codeForIssues, describeIssues, rawJson, utf8Length } from './validate.js';

/** The runtime's WebSocket, reduced to what a session needs. */
export interface WsPeer {
  /** Sends one text frame; the result follows Bun's convention (see SendResult). */
  send(text: string): SendResult;
  close(code: number, reason: string): void;
  /** Drops the TCP connection without a closing handshake (a dead peer would never answer one). */
  terminate(): void;
  /** An RFC 6455 ping; absent where the runtime pings on its own (Deno's idleTimeout). */
  ping?(): void;
  /** Bytes accepted by send() but not yet written to the socket. */
  readonly bufferedAmount: number;
}

/** One WebSocket connection speaking the relaykit protocol, independent of the runtime. */
export class WsSession<P extends WsPeer = WsPeer> implements Session, BacklogSink, PresenceWatcher, Expiring {
  readonly transport = 'ws' as const;
  /** Topics held or being joined. */
  readonly topics = new TopicSet();
  /** Topics whose joins and leaves it asked for (allocated on first use: most connections never do). */
  private watching: Set<string> | undefined;
  closed = false;
  /** Cleared at each heartbeat ping, set by the pong (or any frame). */
  alive = true;
  private cancelExpiry: () => void = NO_EXPIRY;
  /** Made at the first frame a limit counts: until then a bucket would only be full. */
  private publishBucket: Bucket | undefined;
  private subscribeBucket: Bucket | undefined;
  /** Frames refused with rate_limited since `strikeWindowStart` (see RATE_LIMIT_STRIKES). */
  private strikes = 0;
  private strikeWindowStart = 0;
  /** Struck out: later frames are ignored, and the close (4029) waits for the answers to frames accepted before. */
  private limited = false;
  /** Publishes and subscribes accepted and not yet answered. */
  private framesInFlight = 0;

  constructor(
    private readonly host: SessionHost,
    readonly peer: P,
    private principal: Principal,
    readonly id: string,
  ) {}

  /** Call once the socket is open. */
  open(): void {
    const { config } = this.host;
    this.cancelExpiry = expiryTimer(this.principal.expiresAt, this);
    this.send({
      type: 'welcome',
      version: PROTOCOL_VERSION,
      connectionId: this.id,
      heartbeatMs: config.heartbeatMs,
      historySize: config.historySize,
      maxMessageBytes: config.maxMessageBytes,
      maxJsonDepth: config.maxJsonDepth,
      maxTopics: config.maxTopicsPerConnection,
      position: this.host.hub.broker.position(),
      server: this.host.serverName,
    });
  }

  get bufferedAmount(): number {
    return this.peer.bufferedAmount;
  }

  wants(topic: string): boolean {
    return this.topics.has(topic);
  }

  sendBacklog(event: EncodedEvent): void {
    this.peer.send(event.ws);
  }

  deliver(event: EncodedEvent): SendResult {
    const result = this.peer.send(event.ws);
    if (result === -1 && this.peer.bufferedAmount > this.host.config.maxBufferedBytes) this.dropSlowConsumer();
    return result;
  }

  /**
   * Closes the connection with 4008 as a slow consumer. Called by `deliver`, and by a runtime's
   * native fan-out (Bun's server.publish) that finds the send buffer over MAX_BUFFERED_BYTES.
   */
  dropSlowConsumer(): void {
    if (this.closed) return;
    this.host.metrics.slowConsumerCloses++;
    this.host.log.info('slow consumer closed', { transport: 'ws', connection: this.id, bufferedBytes: this.peer.bufferedAmount });
    this.peer.close(CloseCode.slowConsumer, 'slow consumer: send buffer over MAX_BUFFERED_BYTES');
    this.onClose();
  }

  private send(frame: ServerFrame): void {
    if (!this.closed) this.peer.send(JSON.stringify(frame));
  }

  private error(code: ErrorCode, message: string, ref?: string | number): void {
    this.host.metrics.rejected++;
    this.send(ref === undefined ? { type: 'error', code, message } : { type: 'error', code, message, ref });
  }

  /**
   * One heartbeat. A peer that has not answered the previous ping is closed and terminated, so a
   * dead one goes within two intervals. Runtimes that ping on their own (Deno) have no `ping`.
   */
  beat(): void {
    if (!this.peer.ping || this.closed) return;
    if (!this.alive) {
      this.host.metrics.heartbeatTimeouts++;
      // The close frame tells a half-alive peer why; terminate frees the socket without waiting for it.
      this.peer.close(CloseCode.heartbeatTimeout, HEARTBEAT_TIMEOUT_REASON);
      this.peer.terminate();
      this.onClose();
      return;
    }
    this.alive = false;
    this.peer.ping();
  }

  shutdown(): void {
    this.peer.close(CloseCode.goingAway, SHUTDOWN_REASON);
    this.onClose();
  }

  holds(topic: string): boolean {
    return this.topics.has(topic);
  }

  /** The token reached its `exp` without a refresh (called by its expiry timer): 4001, so that the client gets a new one. */
  expire(): void {
    if (this.closed) return;
    this.peer.close(CloseCode.tokenExpired, TOKEN_EXPIRED_REASON);
    this.onClose();
  }

  /** The broker may have lost events of a topic this connection holds: 4009, so that it resumes. */
  resumeRequired(): void {
    this.peer.close(CloseCode.resumeRequired, 'resume required: events may have been missed');
    this.onClose();
  }

  onPong(): void {
    this.alive = true;
  }

  onBinary(): void {
    this.alive = true;
    this.error('binary_not_supported', 'binary frames are not part of the protocol; send JSON text frames');
  }

  onText(text: string): void {
    this.alive = true;
    if (this.limited) return;
    if (text.length > this.host.config.maxMessageBytes / 4 && utf8Length(text) > this.host.config.maxMessageBytes) {
      // Runtimes that enforce the limit themselves close with 1009 before we get here; match them.
      this.error('message_too_large', `frame over MAX_MESSAGE_BYTES (${this.host.config.maxMessageBytes})`);
      this.peer.close(CloseCode.messageTooBig, MESSAGE_TOO_BIG_REASON);
      this.onClose();
      return;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      this.error('bad_json', 'frame is not valid JSON');
      return;
    }
    // After JSON.parse (which does not recurse on V8, and on JavaScriptCore throws a catchable
    // RangeError), so the error can echo the ref; before zod, whose z.json() recurses per level.
    // A frame wraps `data` in two levels: the frame and its event.
    if (nestsDeeperThan(text, this.host.config.maxJsonDepth + 2)) {
      this.error('bad_request', `data nests deeper than MAX_JSON_DEPTH (${this.host.config.maxJsonDepth})`, refOf(raw));
      return;
    }
    const type = typeof raw === 'object' && raw !== null ? (raw as { type?: unknown }).type : undefined;
    // Before zod: every publish and subscribe frame counts, and a refused one costs no validation.
    const limits = this.host.frameLimits;
    if (type === 'publish' && !limits.publish.off && !this.admit(limits.publish, (this.publishBucket ??= limits.publish.bucket(performance.now())), 'publish', 'PUBLISH_RATE', raw)) return;
    // A presence request reads the broker as a subscribe does: it counts against the same rate.
    if ((type === 'subscribe' || type === 'presence') && !limits.subscribe.off && !this.admit(limits.subscribe, (this.subscribeBucket ??= limits.subscribe.bucket(performance.now())), type, 'SUBSCRIBE_RATE', raw)) return;
    const parsed = ClientFrame.safeParse(raw);
    if (!parsed.success) {
      const ref = refOf(raw);
      if (typeof type !== 'string' || !(CLIENT_FRAME_TYPES as readonly string[]).includes(type)) {
        this.error('bad_request', `unknown frame type ${JSON.stringify(type ?? null)}; expected ${CLIENT_FRAME_TYPES.join(', ')}`, ref);
      } else {
        this.error(codeForIssues(parsed.error.issues), describeIssues(parsed.error.issues), ref);
      }
      return;
    }
    const frame = parsed.data;
    if (frame.type === 'publish') frame.event.data = rawJson((raw as { event: { data?: unknown } }).event.data);
    switch (frame.type) {
      case 'ping':
        this.send(frame.ref === undefined ? { type: 'pong' } : { type: 'pong', ref: frame.ref });
        return;
      case 'subscribe':
        this.answer(this.subscribe(frame), frame.ref);
        return;
      case 'unsubscribe':
        this.unsubscribe(frame);
        return;
      case 'publish':
        this.answer(this.publish(frame), frame.ref);
        return;
      case 'refresh':
        this.refresh(frame).catch((error) => this.fail(error, frame.ref));
        return;
      case 'presence':
        this.answer(this.presenceState(frame), frame.ref);
        return;
    }
  }

  /** Reports a frame's failure as an error frame, and counts it in flight until it is answered. */
  private answer(work: Promise<void>, ref: string | number | undefined): void {
    this.framesInFlight++;
    work
      .catch((error) => this.fail(error, ref))
      .finally(() => {
        this.framesInFlight--;
        if (this.limited) this.closeRateLimited();
      });
  }

  /**
   * Takes a token for one frame; a refused frame is answered `rate_limited` (its ref echoed) and
   * is a strike: the RATE_LIMIT_STRIKES-th within RATE_LIMIT_STRIKE_WINDOW_MS closes with 4029.
   */
  private admit(limit: RateLimit, bucket: Bucket, what: string, setting: string, raw: unknown): boolean {
    const now = performance.now();
    if (limit.take(bucket, now)) return true;
    this.host.metrics.rateLimited++;
    this.error('rate_limited', `${what} rate limit exceeded (${setting}=${limit.rate}/s); retry in ${limit.retryAfterS(bucket)} s`, refOf(raw));
    if (this.strikes === 0 || now - this.strikeWindowStart > RATE_LIMIT_STRIKE_WINDOW_MS) {
      this.strikes = 0;
      this.strikeWindowStart = now;
    }
    if (++this.strikes >= RATE_LIMIT_STRIKES) {
      this.limited = true;
      this.closeRateLimited();
    }
    return false;
  }

  /** Closes a struck-out connection with 4029 once every publish and subscribe it had accepted has been answered. */
  private closeRateLimited(): void {
    if (this.framesInFlight > 0 || this.closed) return;
    this.host.log.info('rate-limited connection closed', { transport: 'ws', connection: this.id });
    this.peer.close(CloseCode.rateLimited, RATE_LIMITED_REASON);
    this.onClose();
  }

  private fail(error: unknown, ref: string | number | undefined): void {
    const refusal = asRelayError(error);
    if (refusal) this.error(refusal.code, refusal.message, ref);
    else {
      this.host.log.error('unexpected error in a WebSocket session', { connection: this.id, error });
      this.error('internal', 'internal error', ref);
    }
  }

  private async subscribe(frame: SubscribeFrame): Promise<void> {
    const principal = this.principal;
    const fresh = [...new Set(frame.topics)].filter((topic) => !this.topics.has(topic));
    const max = this.host.config.maxTopicsPerConnection;
    if (this.topics.size + fresh.length > max) {
      throw new RelayError('too_many_topics', `a connection may hold at most ${max} topics (MAX_TOPICS_PER_CONNECTION)`);
    }
    for (const topic of fresh) {
      if (!(await this.host.auth.canSubscribe(principal, topic))) {
        throw new RelayError('forbidden', `not allowed to subscribe to ${topic}`);
      }
    }
    if (this.closed) return;
    // A refresh replaced the token during the checks: check again against the new one.
    if (principal !== this.principal) return this.subscribe(frame);
    for (const topic of fresh) this.topics.add(topic);
    let join;
    try {
      join = await this.host.hub.join(this, fresh, frame.lastEventId);
    } catch (error) {
      for (const topic of fresh) this.topics.delete(topic);
      throw error;
    }
    if (!join) return;
    if (frame.presence) {
      // Before `subscribed`: from then on the client hears every join and leave of these topics.
      this.watching ??= new Set();
      for (const topic of fresh) if (this.topics.has(topic) && !this.watching.has(topic)) this.watching.add(topic);
      try {
        await Promise.all(fresh.filter((topic) => this.watching!.has(topic)).map((topic) => this.host.presence.watch(topic, this)));
      } catch (error) {
        // Not subscribed after all: the topics go, as when the join itself fails.
        join.end();
        for (const topic of fresh) if (this.topics.delete(topic)) this.leave(topic);
        throw error;
      }
      if (this.closed) return join.end();
    }
    const since = Date.now();
    // Topics unsubscribed meanwhile were left (and exited) already.
    for (const topic of fresh) if (this.topics.has(topic)) this.host.presence.enter(topic, this.member(since));
    this.send(frame.ref === undefined ? { type: 'subscribed', topics: frame.topics } : { type: 'subscribed', topics: frame.topics, ref: frame.ref });
    // Topics unsubscribed while the join was pending were released by leave(); send nothing for them.
    const reset = join.resetTopics.filter((topic) => this.topics.has(topic));
    if (reset.length > 0) this.send({ type: 'reset', code: 'history_unavailable', topics: reset, position: join.position });
    const ready = join;
    sendPaced(ready, this, replayLowWater(this.host.config.maxBufferedBytes), () =>
      ready.goLive(fresh.filter((topic) => this.topics.has(topic))),
    );
  }

  private unsubscribe(frame: UnsubscribeFrame): void {
    for (const topic of new Set(frame.topics)) {
      if (this.topics.delete(topic)) this.leave(topic);
    }
    this.send(frame.ref === undefined ? { type: 'unsubscribed', topics: frame.topics } : { type: 'unsubscribed', topics: frame.topics, ref: frame.ref });
  }

  private async publish(frame: PublishFrame): Promise<void> {
    if (!(await this.host.auth.canPublish(this.principal, frame.topic))) {
      throw new RelayError('forbidden', `not allowed to publish to ${frame.topic}`);
    }
    const result = await this.host.publish(frame.topic, { ...frame.event, key: frame.key });
    if (frame.ref !== undefined) {
      this.send({ type: 'ack', ref: frame.ref, id: result.envelope.id, ...(result.duplicate ? { duplicate: true } : {}) });
    }
  }

  /**
   * Replaces the token: the connection then lives until the new `exp`, and drops (with an
   * `unsubscribed` frame carrying the refresh's ref) the topics the new token does not grant. A
   * refused refresh leaves the old token, and its `exp`, in place.
   */
  private async refresh(frame: RefreshFrame): Promise<void> {
    const next = await this.host.authenticateToken(frame.token);
    // A refresh extends a session; it must not turn it into somebody else's.
    if (next.id !== this.principal.id) throw new RelayError('forbidden', 'a refresh token must be for the same subject (sub) as the connection');
    // Until every held topic is checked: a subscribe may add one while a check awaits.
    const checked = new Set<string>();
    const dropped: string[] = [];
    for (let pending = [...this.topics]; pending.length > 0; pending = [...this.topics].filter((t) => !checked.has(t))) {
      for (const topic of pending) {
        checked.add(topic);
        if (!(await this.host.auth.canSubscribe(next, topic))) dropped.push(topic);
      }
    }
    if (this.closed) return;
    this.principal = next;
    this.cancelExpiry();
    this.cancelExpiry = expiryTimer(next.expiresAt, this);
    const ref = frame.ref === undefined ? {} : { ref: frame.ref };
    const left = dropped.filter((topic) => this.topics.delete(topic));
    for (const topic of left) this.leave(topic);
    if (left.length > 0) this.send({ type: 'unsubscribed', topics: left, ...ref });
    this.send({ type: 'refreshed', ...(next.expiresAt === undefined ? {} : { expiresAt: next.expiresAt }), ...ref });
  }

  /** The socket closed (either side). Frees every topic; safe to call more than once. */
  onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.cancelExpiry();
    this.host.forget(this);
    for (const topic of this.topics) this.leave(topic);
    this.topics.clear();
  }

  /** A join or a leave of a topic it watches. */
  presence(change: EncodedPresence): void {
    if (!this.closed) this.peer.send(change.ws);
  }

  private member(since: number): PresenceMember {
    return isAnonymous(this.principal)
      ? { connectionId: this.id, transport: 'ws', since }
      : { connectionId: this.id, user: this.principal.id, transport: 'ws', since };
  }

  /** Lets go of a topic (its fan-out, its presence), already removed from `topics`. */
  private leave(topic: string): void {
    this.host.hub.leave(this, topic);
    if (this.watching?.delete(topic)) this.host.presence.unwatch(topic, this);
    // A topic whose join never completed was not entered: removing a non-member changes nothing.
    this.host.presence.exit(topic, this.id);
  }

  private async presenceState(frame: PresenceRequestFrame): Promise<void> {
    if (!(await this.host.auth.canSubscribe(this.principal, frame.topic))) {
      throw new RelayError('forbidden', `not allowed to subscribe to ${frame.topic}`);
    }
    const state = await this.host.presence.read(frame.topic);
    this.send({ type: 'presence_state', ...state, ...(frame.ref === undefined ? {} : { ref: frame.ref }) });
  }
}

/** The frame's `ref` when it is a valid Ref, to echo in an error; an invalid one is never echoed. */
function refOf(raw: unknown): string | number | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const ref = (raw as { ref?: unknown }).ref;
  return Ref.safeParse(ref).success ? (ref as string | number) : undefined;
}
