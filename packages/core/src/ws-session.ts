import {
  CLIENT_FRAME_TYPES,
  ClientFrame,
  CloseCode,
  HEARTBEAT_TIMEOUT_REASON,
  MESSAGE_TOO_BIG_REASON,
  SHUTDOWN_REASON,
  type EncodedEvent,
  type ErrorCode,
  type PublishFrame,
  type SendResult,
  type ServerFrame,
  type SubscribeFrame,
  type UnsubscribeFrame,
  PROTOCOL_VERSION,
  Ref,
} from '@relaykit/contracts';
import type { Principal } from './auth.js';
import { type BacklogSink, replayLowWater, sendPaced } from './backlog.js';
import { RelayError, asRelayError } from './errors.js';
import { nestsDeeperThan } from './json-depth.js';
import type { Session, SessionHost } from './session-host.js';
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
export class WsSession<P extends WsPeer = WsPeer> implements Session, BacklogSink {
  readonly transport = 'ws' as const;
  /** Topics held or being joined. */
  readonly topics = new Set<string>();
  closed = false;
  /** Cleared at each heartbeat ping, set by the pong (or any frame). */
  alive = true;

  constructor(
    private readonly host: SessionHost,
    readonly peer: P,
    private readonly principal: Principal,
    readonly id: string,
  ) {}

  /** Call once the socket is open. */
  open(): void {
    const { config } = this.host;
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
    const parsed = ClientFrame.safeParse(raw);
    if (!parsed.success) {
      const ref = refOf(raw);
      const type = typeof raw === 'object' && raw !== null ? (raw as { type?: unknown }).type : undefined;
      if (typeof type !== 'string' || !(CLIENT_FRAME_TYPES as readonly string[]).includes(type)) {
        this.error('bad_request', `unknown frame type ${JSON.stringify(type ?? null)}; expected subscribe, unsubscribe, publish or ping`, ref);
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
        this.subscribe(frame).catch((error) => this.fail(error, frame.ref));
        return;
      case 'unsubscribe':
        this.unsubscribe(frame);
        return;
      case 'publish':
        this.publish(frame).catch((error) => this.fail(error, frame.ref));
        return;
    }
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
    const fresh = [...new Set(frame.topics)].filter((topic) => !this.topics.has(topic));
    const max = this.host.config.maxTopicsPerConnection;
    if (this.topics.size + fresh.length > max) {
      throw new RelayError('too_many_topics', `a connection may hold at most ${max} topics (MAX_TOPICS_PER_CONNECTION)`);
    }
    for (const topic of fresh) {
      if (!(await this.host.auth.canSubscribe(this.principal, topic))) {
        throw new RelayError('forbidden', `not allowed to subscribe to ${topic}`);
      }
    }
    if (this.closed) return;
    for (const topic of fresh) this.topics.add(topic);
    let join;
    try {
      join = await this.host.hub.join(this, fresh, frame.lastEventId);
    } catch (error) {
      for (const topic of fresh) this.topics.delete(topic);
      throw error;
    }
    if (!join) return;
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
      if (this.topics.delete(topic)) this.host.hub.leave(this, topic);
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

  /** The socket closed (either side). Frees every topic; safe to call more than once. */
  onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.host.forget(this);
    for (const topic of this.topics) this.host.hub.leave(this, topic);
    this.topics.clear();
  }
}

/** The frame's `ref` when it is a valid Ref, to echo in an error; an invalid one is never echoed. */
function refOf(raw: unknown): string | number | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const ref = (raw as { ref?: unknown }).ref;
  return Ref.safeParse(ref).success ? (ref as string | number) : undefined;
}
