import {
  CloseCode,
  HEARTBEAT_TIMEOUT_REASON,
  SHUTDOWN_REASON,
  type Broker,
  type Config,
  type Fanout,
  type PublishInput,
  type PublishResult,
  SSE_KEEPALIVE_COMMENT,
  SSE_OPEN_COMMENT,
  encodeSseComment,
  encodeSseRetry,
} from '@relaykit/contracts';
import { type AuthHooks, type Principal, allowAll, tokenFrom } from './auth.js';
import { type DemoAssets, handleHttp } from './http-api.js';
import { RelayError, errorResponse } from './http-util.js';
import { Hub, type TopicHolder } from './hub.js';
import { jwtAuth } from './jwt-auth.js';
import { MemoryBroker } from './memory-broker.js';
import { Metrics } from './metrics.js';
import { SetFanout } from './set-fanout.js';
import { SseSession } from './sse-session.js';
import { checkTopic } from './validate.js';
import { type WsPeer, WsSession } from './ws-session.js';

export interface RelayOptions {
  config: Config;
  /** Names the runtime in the welcome frame, /healthz and logs. */
  serverName: string;
  broker?: Broker;
  fanout?: Fanout<TopicHolder>;
  /** Overrides the auth the config selects (JWT when AUTH_JWT_SECRET is set, else allow-all). */
  auth?: AuthHooks;
  demo?: DemoAssets;
}

/** The request facts every transport's handshake needs, whatever the runtime's request type. */
export interface HandshakeRequest {
  url: URL;
  header(name: string): string | null;
}

const utf8 = new TextEncoder();

/**
 * Everything about relaykit that is the same on every runtime. An app creates one Relay, hands it
 * its sockets and streams, and calls `startHeartbeat` and `shutdown`.
 */
export class Relay {
  readonly config: Config;
  readonly serverName: string;
  readonly broker: Broker;
  readonly hub: Hub<TopicHolder>;
  readonly metrics: Metrics;
  readonly auth: AuthHooks;
  readonly demo: DemoAssets | undefined;
  readonly ssePreamble: Uint8Array;
  readonly sseKeepalive = utf8.encode(encodeSseComment(SSE_KEEPALIVE_COMMENT));
  private readonly sessions = new Set<WsSession | SseSession>();
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private nextConnectionId = 0;
  shuttingDown = false;

  constructor(options: RelayOptions) {
    this.config = options.config;
    this.serverName = options.serverName;
    const { config } = options;
    this.broker =
      options.broker ??
      new MemoryBroker({
        historySize: config.historySize,
        maxHistories: config.maxHistories,
        maxBytes: config.historyMaxBytes,
        ttlMs: config.historyTtlMs,
      });
    this.metrics = new Metrics(() => this.hub.topicCount, () => this.broker.historyStats());
    this.hub = new Hub(this.broker, options.fanout ?? new SetFanout(), this.metrics, config.maxBufferedBytes);
    const jwt = options.config.auth;
    this.auth =
      options.auth ??
      (jwt ? jwtAuth({ secret: jwt.jwtSecret, issuer: jwt.issuer, audience: jwt.audience }) : allowAll);
    this.demo = options.demo;
    this.ssePreamble = utf8.encode(encodeSseComment(SSE_OPEN_COMMENT) + encodeSseRetry(this.config.sseRetryMs));
  }

  async publish(topic: string, input: PublishInput): Promise<PublishResult> {
    if (this.shuttingDown) throw new RelayError('shutting_down', 'server is shutting down');
    const result = await this.broker.publish(topic, input);
    if (result.duplicate) this.metrics.duplicates++;
    else this.metrics.published++;
    return result;
  }

  /** Authenticates a connection; returns the principal or the error response to send instead. */
  async admit(request: HandshakeRequest, transport: 'sse' | 'ws'): Promise<Principal | Response> {
    if (this.shuttingDown) return errorResponse('shutting_down', 'server is shutting down');
    try {
      this.checkConnectionLimit();
    } catch (error) {
      if (!(error instanceof RelayError)) throw error;
      this.metrics.rejected++;
      return errorResponse(error.code, error.message);
    }
    const principal = await this.auth.authenticate({
      token: tokenFrom(request.url, request.header),
      transport,
      url: request.url,
      header: request.header,
    });
    if (!principal) {
      this.metrics.rejected++;
      return errorResponse('unauthorized', 'missing or invalid token', { 'www-authenticate': 'Bearer' });
    }
    return principal;
  }

  /** Throws too_many_connections when SSE streams, WebSockets and held long polls reach MAX_CONNECTIONS. */
  checkConnectionLimit(): void {
    const { maxConnections } = this.config;
    if (maxConnections > 0 && this.metrics.openConnections >= maxConnections) {
      throw new RelayError('too_many_connections', `connection limit reached (MAX_CONNECTIONS=${maxConnections})`);
    }
  }

  /** Authenticates a plain HTTP request (publish or poll); throws 401 as a RelayError. */
  async authenticateRequest(request: Request, url: URL, transport: 'publish' | 'poll' = 'publish'): Promise<Principal> {
    const header = (name: string) => request.headers.get(name);
    const principal = await this.auth.authenticate({ token: tokenFrom(url, header), transport, url, header });
    if (!principal) throw new RelayError('unauthorized', 'missing or invalid token');
    return principal;
  }

  /**
   * Validates an SSE request (`GET /v1/events?topic=...`). Returns a session to `start` once the
   * runtime has sent the headers, or the error response to send instead.
   */
  async openSse(request: HandshakeRequest): Promise<SseSession | Response> {
    const topics = [...new Set(request.url.searchParams.getAll('topic'))];
    try {
      if (topics.length === 0) throw new RelayError('bad_request', 'give at least one topic: /v1/events?topic=NAME');
      if (topics.length > this.config.maxTopicsPerConnection) {
        throw new RelayError('too_many_topics', `at most ${this.config.maxTopicsPerConnection} topics (MAX_TOPICS_PER_CONNECTION)`);
      }
      topics.forEach(checkTopic);
    } catch (error) {
      if (!(error instanceof RelayError)) throw error;
      this.metrics.rejected++;
      return errorResponse(error.code, error.message);
    }
    const principal = await this.admit(request, 'sse');
    if (principal instanceof Response) return principal;
    for (const topic of topics) {
      if (!(await this.auth.canSubscribe(principal, topic))) {
        this.metrics.rejected++;
        return errorResponse('forbidden', `not allowed to subscribe to ${topic}`);
      }
    }
    // The header wins over the query parameter: EventSource sets it on every reconnect.
    const lastEventId = request.header('last-event-id') ?? request.url.searchParams.get('lastEventId') ?? undefined;
    const session = new SseSession(this, topics, lastEventId === '' ? undefined : lastEventId);
    this.track(session);
    return session;
  }

  /** Wraps an upgraded socket in a session; call `session.open()` when the socket is open. */
  openWs<P extends WsPeer>(peer: P, principal: Principal): WsSession<P> {
    const session = new WsSession(this, peer, principal, `${this.serverName}-${(++this.nextConnectionId).toString(36)}`);
    this.track(session);
    return session;
  }

  private track(session: WsSession | SseSession): void {
    this.sessions.add(session);
    this.metrics.connections[session.transport]++;
  }

  /** Called by a session as it closes. */
  forget(session: WsSession | SseSession): void {
    if (this.sessions.delete(session)) this.metrics.connections[session.transport]--;
  }

  handle(request: Request): Promise<Response> {
    return handleHttp(this, request);
  }

  /**
   * One timer for every connection: SSE keepalive comments, and WebSocket pings where the runtime
   * exposes them. A peer that has not answered the previous ping is terminated, so a dead one
   * goes within two intervals.
   */
  startHeartbeat(): void {
    this.heartbeat ??= setInterval(() => this.beat(), this.config.heartbeatMs);
  }

  private beat(): void {
    for (const session of this.sessions) {
      if (session.transport === 'sse') {
        session.keepalive();
        continue;
      }
      const { peer } = session;
      if (!peer.ping) continue;
      if (!session.alive) {
        this.metrics.heartbeatTimeouts++;
        // The close frame tells a half-alive peer why; terminate frees the socket without waiting for it.
        peer.close(CloseCode.heartbeatTimeout, HEARTBEAT_TIMEOUT_REASON);
        peer.terminate();
        session.onClose();
        continue;
      }
      session.alive = false;
      peer.ping();
    }
  }

  /** Closes WebSockets with 1001 and ends SSE streams so clients reconnect elsewhere. */
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    for (const session of [...this.sessions]) {
      if (session.transport === 'sse') session.end();
      else {
        session.peer.close(CloseCode.goingAway, SHUTDOWN_REASON);
        session.onClose();
      }
    }
    await this.broker.close();
  }
}
