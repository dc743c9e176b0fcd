import { type Broker, type Config, type Fanout, type PublishInput, type PublishResult, SseQuery, WsQuery, listeningLine } from '@relaykit/contracts';
import { type AuthHooks, type Principal, allowAll, isAnonymous, tokenFrom } from './auth.js';
import { TrustedProxies, clientKey } from './client-address.js';
import { type ClientLimitKind, ClientLimits } from './client-limits.js';
import { RelayError, asRelayError, errorResponse, rateLimitedError } from './errors.js';
import { type HandshakeRequest, handshakeOf } from './handshake.js';
import { type DemoAssets, type HttpApp, type HttpEdge, type HttpHost, createHttpApp } from './http-app.js';
import { SSE_RESPONSE_HEADERS } from './http-util.js';
import { Hub, type TopicHolder } from './hub.js';
import { jwtAuth } from './jwt-auth.js';
import { type Logger, jsonLogger } from './log.js';
import { MemoryBroker } from './memory-broker.js';
import { OriginPolicy } from './origin.js';
import { Metrics } from './metrics.js';
import type { PollWaiter } from './poll.js';
import { type PresenceFanout, PresenceHub } from './presence-hub.js';
import { RedisBroker } from './redis-broker.js';
import { type Route, WS_PATH, routeOf } from './routes.js';
import type { Session } from './session-host.js';
import { SetFanout } from './set-fanout.js';
import { SseSession } from './sse-session.js';
import { type FrameLimits, RateLimit, frameLimitsOf } from './token-bucket.js';
import { checkQuery, checkTopic } from './validate.js';
import { type WsPeer, WsSession } from './ws-session.js';

export interface RelayOptions {
  config: Config;
  /** Names the runtime in the welcome frame, /healthz and logs. */
  serverName: string;
  broker?: Broker;
  fanout?: Fanout<TopicHolder> & Partial<PresenceFanout>;
  /** Overrides the auth the config selects (JWT when AUTH_JWT_SECRET is set, else allow-all). */
  auth?: AuthHooks;
  demo?: DemoAssets;
  /** Overrides the JSON-lines logger at LOG_LEVEL. */
  logger?: Logger;
}

/**
 * Everything about relaykit that is the same on every runtime. An app creates one Relay, asks it
 * where each request goes (`route`), hands it its sockets and streams, serves every other request
 * with `fetch` (the Hono app), and calls `startHeartbeat` and `shutdown`.
 */
export class Relay implements HttpHost {
  readonly config: Config;
  readonly serverName: string;
  readonly broker: Broker;
  readonly hub: Hub<TopicHolder>;
  readonly presence: PresenceHub;
  readonly metrics: Metrics;
  readonly auth: AuthHooks;
  /** ALLOWED_ORIGINS: which pages may use the server and ride the token cookie. */
  readonly origins: OriginPolicy;
  readonly demo: DemoAssets | undefined;
  readonly log: Logger;
  /** The HTTP API; Bun serves it with `fetch`, Node and Deno through node-edge. */
  readonly http: HttpApp;
  readonly frameLimits: FrameLimits;
  /** Per client IP: HTTP publishes and new connections and polls. */
  private readonly clientLimits: ClientLimits;
  private readonly trustedProxies: TrustedProxies;
  private readonly sessions = new Set<Session>();
  /** Long polls being held, so that a broker gap can answer them (see resumeRequired). */
  readonly polls = new Set<PollWaiter>();
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private nextConnectionId = 0;
  /** Makes connection ids unique across workers and instances, which may share one broker. */
  private readonly instanceId = Math.floor(Math.random() * 36 ** 6)
    .toString(36)
    .padStart(6, '0');
  shuttingDown = false;
  private drainWaiters: (() => void)[] = [];

  constructor(options: RelayOptions) {
    const { config } = options;
    this.config = config;
    this.serverName = options.serverName;
    this.log = options.logger ?? jsonLogger(config.logLevel, options.serverName);
    this.broker = options.broker ?? this.brokerFor(config);
    this.metrics = new Metrics(() => this.hub.topicCount, () => this.broker.historyStats());
    this.hub = new Hub(this.broker, options.fanout ?? new SetFanout(), this.metrics, config.maxBufferedBytes);
    const fanout = options.fanout;
    const nativePresence = fanout?.watchPresence && fanout.unwatchPresence && fanout.publishPresence ? (fanout as PresenceFanout) : undefined;
    this.presence = new PresenceHub(this.broker.presence, config.presenceMaxMembers, (error) => this.log.warn('presence update failed', { error }), nativePresence);
    const jwt = config.auth;
    this.auth = options.auth ?? (jwt ? jwtAuth({ secret: jwt.jwtSecret, jwksUrl: jwt.jwksUrl, issuer: jwt.issuer, audience: jwt.audience, requireExp: jwt.requireExp }) : allowAll);
    this.origins = new OriginPolicy(config.allowedOrigins);
    this.demo = options.demo;
    this.frameLimits = frameLimitsOf(config);
    this.clientLimits = new ClientLimits(new RateLimit(config.publishRate, config.publishBurst), new RateLimit(config.connectRate, config.connectBurst));
    this.trustedProxies = new TrustedProxies(config.trustedProxies);
    this.http = createHttpApp(this);
  }

  private brokerFor(config: Config): Broker {
    const limits = { historySize: config.historySize, maxHistories: config.maxHistories, ttlMs: config.historyTtlMs, idempotencyTtlMs: config.idempotencyTtlMs };
    if (!config.redis) {
      return new MemoryBroker({ ...limits, maxBytes: config.historyMaxBytes, idempotencyMaxKeys: config.idempotencyMaxKeys });
    }
    return new RedisBroker({ ...limits, ...config.redis, presenceRefreshMs: config.heartbeatMs, onGap: (topics) => this.resumeRequired(topics) });
  }

  /**
   * The broker's live link lost events of `topics` that it cannot refill: every connection and
   * held poll on them is closed (4009, SSE `event: error`, an early poll answer) in this same turn,
   * before any later event, so that each resumes and gets the reset signal instead of a silent gap.
   */
  private resumeRequired(topics: readonly string[]): void {
    this.log.warn('broker lost events; connections on these topics must resume', { topics: topics.slice(0, 20), count: topics.length });
    for (const session of [...this.sessions]) if (topics.some((topic) => session.holds(topic))) session.resumeRequired();
    for (const poll of this.polls) if (topics.includes(poll.topic)) poll.answerNow();
  }

  /**
   * Serves a plain HTTP request (anything `route` does not send to a stream or an upgrade) with
   * what the edge knows of it: the socket's remote address, which per-IP limits count by, and on
   * node-edge the body it read.
   */
  readonly fetch = (request: Request, edge: HttpEdge = {}): Response | Promise<Response> => this.http.fetch(request, edge);

  /** Where a request goes; an upgrade that can never succeed throws its RelayError. */
  route(method: string, pathname: string, upgrade: string | null): Route {
    return routeOf(method, pathname, upgrade);
  }

  async publish(topic: string, input: PublishInput): Promise<PublishResult> {
    if (this.shuttingDown) throw new RelayError('shutting_down', 'server is shutting down');
    const result = await this.broker.publish(topic, input);
    if (result.duplicate) this.metrics.duplicates++;
    else this.metrics.published++;
    return result;
  }

  /** Throws too_many_connections when SSE streams, WebSockets and held long polls reach MAX_CONNECTIONS. */
  checkConnectionLimit(): void {
    const { maxConnections } = this.config;
    if (maxConnections > 0 && this.metrics.openConnections >= maxConnections) {
      throw new RelayError('too_many_connections', `connection limit reached (MAX_CONNECTIONS=${maxConnections})`);
    }
  }

  /**
   * Takes one unit of a per-IP limit (PUBLISH_* for HTTP publishes, CONNECT_* for connections
   * and polls) for the request's client; throws rate_limited (429 with Retry-After) when its
   * bucket is empty. Every attempt counts, admitted or not.
   */
  limitClient(kind: ClientLimitKind, request: HandshakeRequest): void {
    if (this.clientLimits[kind].off) return;
    const forwardedFor = this.trustedProxies.none ? null : request.header('x-forwarded-for');
    const waitS = this.clientLimits.take(kind, clientKey(request.peer, forwardedFor, this.trustedProxies));
    if (waitS === 0) return;
    this.metrics.rateLimited++;
    const { rate } = this.clientLimits[kind];
    throw rateLimitedError(kind === 'publish' ? `publish rate limit exceeded (PUBLISH_RATE=${rate}/s)` : `connection rate limit exceeded (CONNECT_RATE=${rate}/s)`, waitS);
  }

  /** Authenticates a request of any transport; throws 401 as a RelayError. */
  private async principalOf(request: HandshakeRequest, transport: 'sse' | 'ws' | 'publish' | 'poll' | 'history' | 'presence'): Promise<Principal> {
    // A foreign page's request carries the user's cookie too: it is then as good as absent.
    const cookie = this.origins.cookieHonoured(request);
    const header = cookie ? request.header : (name: string) => (name === 'cookie' ? null : request.header(name));
    const principal = await this.auth.authenticate({ token: tokenFrom(request.url, header, { cookie }), transport, url: request.url, header });
    if (!principal) {
      this.log.info('auth refused', { transport });
      throw new RelayError('unauthorized', 'missing or invalid token', { 'www-authenticate': 'Bearer' });
    }
    return principal;
  }

  authenticateToken(token: string): Promise<Principal> {
    const url = new URL(WS_PATH, 'http://relaykit.invalid');
    const authorization = `Bearer ${token}`;
    return this.principalOf({ url, peer: undefined, header: (name) => (name === 'authorization' ? authorization : null) }, 'ws');
  }

  authenticate(request: HandshakeRequest, transport: 'publish' | 'poll' | 'history' | 'presence'): Promise<Principal> {
    return this.principalOf(request, transport);
  }

  /** Admits a WebSocket before its upgrade (rate, shutdown, limits, auth); throws the RelayError to answer. */
  async acceptWs(request: HandshakeRequest): Promise<Principal> {
    this.origins.check(request);
    this.limitClient('connect', request);
    checkQuery(request.url.searchParams, WsQuery);
    if (this.shuttingDown) throw new RelayError('shutting_down', 'server is shutting down');
    this.checkConnectionLimit();
    return this.principalOf(request, 'ws');
  }

  /**
   * Validates an SSE request (`GET /v1/events?topic=...`) and returns a session to `start` once
   * the runtime has sent the headers; throws the RelayError to answer instead.
   */
  async acceptSse(request: HandshakeRequest): Promise<SseSession> {
    const cors = this.origins.corsHeaders(request.header('origin'));
    try {
      this.origins.check(request);
      this.limitClient('connect', request);
      checkQuery(request.url.searchParams, SseQuery);
      return await this.admitSse(request, cors);
    } catch (error) {
      // The refusal is read by the same page as the stream: it carries the same origin grant.
      const refused = asRelayError(error);
      throw refused ? new RelayError(refused.code, refused.message, { ...cors, ...refused.headers }, { cause: error }) : error;
    }
  }

  private async admitSse(request: HandshakeRequest, cors: Readonly<Record<string, string>>): Promise<SseSession> {
    const topics = [...new Set(request.url.searchParams.getAll('topic'))];
    if (topics.length === 0) throw new RelayError('bad_request', 'give at least one topic: /v1/events?topic=NAME');
    if (topics.length > this.config.maxTopicsPerConnection) {
      throw new RelayError('too_many_topics', `at most ${this.config.maxTopicsPerConnection} topics (MAX_TOPICS_PER_CONNECTION)`);
    }
    topics.forEach(checkTopic);
    if (this.shuttingDown) throw new RelayError('shutting_down', 'server is shutting down');
    // Refused before the 200: a stream opened now could not be joined.
    if (this.broker.available?.() === false) throw asRelayError({ code: 'broker_unavailable' })!;
    this.checkConnectionLimit();
    const principal = await this.principalOf(request, 'sse');
    for (const topic of topics) {
      if (!(await this.auth.canSubscribe(principal, topic))) throw new RelayError('forbidden', `not allowed to subscribe to ${topic}`);
    }
    // The header wins over the query parameter: EventSource sets it on every reconnect.
    const lastEventId = request.header('last-event-id') ?? request.url.searchParams.get('lastEventId') ?? undefined;
    const headers = this.origins.restricted ? { ...SSE_RESPONSE_HEADERS, ...cors } : SSE_RESPONSE_HEADERS;
    const presence = request.url.searchParams.get('presence');
    if (presence !== null && presence !== '0' && presence !== '1') throw new RelayError('bad_request', 'presence: 1 (joins and leaves as event: presence) or 0');
    const session = new SseSession(
      this,
      topics,
      lastEventId === '' ? undefined : lastEventId,
      principal.expiresAt,
      headers,
      this.nextId(),
      isAnonymous(principal) ? undefined : principal.id,
      presence === '1',
    );
    this.track(session);
    return session;
  }

  private nextId(): string {
    return `${this.serverName}-${this.instanceId}-${(++this.nextConnectionId).toString(36)}`;
  }

  /** Wraps an upgraded socket in a session; call `session.open()` when the socket is open. */
  openWs<P extends WsPeer>(peer: P, principal: Principal): WsSession<P> {
    const session = new WsSession(this, peer, principal, this.nextId());
    this.track(session);
    return session;
  }

  /**
   * The answer to anything thrown while serving a request: a RelayError's own response (counted as
   * rejected), else a logged 500. Like every answer, it carries the public CORS grant (json); with
   * ALLOWED_ORIGINS set, the grant of the request's origin instead (a stream refusal's comes from acceptSse).
   */
  refusal(error: unknown, request?: Request): Response {
    const refused = asRelayError(error);
    if (refused) {
      this.metrics.rejected++;
      const response = errorResponse(refused.code, refused.message, refused.headers);
      if (this.origins.restricted && !refused.headers['access-control-allow-origin']) response.headers.delete('access-control-allow-origin');
      return response;
    }
    // The path only: a query string may carry a token.
    this.log.error('request failed', { method: request?.method, path: request ? new URL(request.url).pathname : undefined, error });
    return errorResponse('internal', 'internal error');
  }

  private track(session: Session): void {
    this.sessions.add(session);
    this.metrics.connections[session.transport]++;
    if (this.log.enabled('debug')) this.log.debug('connection opened', { transport: session.transport, open: this.sessions.size });
  }

  forget(session: Session): void {
    if (!this.sessions.delete(session)) return;
    this.metrics.connections[session.transport]--;
    if (this.log.enabled('debug')) this.log.debug('connection closed', { transport: session.transport, open: this.sessions.size });
    this.checkDrained();
  }

  /**
   * Call once the server listens, and print the listening line when it resolves: starts the one
   * heartbeat timer (see Session.beat) and connects a networked broker. An unreachable broker
   * does not stop the server: this resolves after the broker's own timeout, the broker keeps
   * retrying in the background, and /healthz says degraded meanwhile.
   */
  async start(): Promise<void> {
    this.heartbeat ??= setInterval(() => {
      for (const session of this.sessions) session.beat();
    }, this.config.heartbeatMs);
    if (!this.broker.connect) return;
    try {
      await this.broker.connect();
      this.log.info('broker connected');
    } catch (error) {
      this.log.warn('broker unavailable; retrying in the background', { error });
    }
  }

  /**
   * Prints the listening line (LISTENING_LINE) for `port` on HOST, which tools wait for: as an info log line, or
   * plain when LOG_LEVEL hides info, so that it is there at every level.
   */
  announce(port: number): void {
    const { host } = this.config;
    const scheme = this.config.tls ? 'https' : 'http';
    const line = listeningLine(this.serverName, `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`);
    if (this.log.enabled('info')) this.log.info(line);
    else console.log(line);
  }

  /**
   * Counts a plain HTTP request the runtime is serving (its edge calls this as one arrives and the
   * result once its response is done; streams are sessions instead), so that a shutdown's drain
   * waits for it. Shown as relaykit_requests_in_flight.
   */
  trackRequest(): () => void {
    this.metrics.requestsInFlight++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.metrics.requestsInFlight--;
      this.checkDrained();
    };
  }

  /**
   * The drain of a shutdown (PROTOCOL.md 12): from now on new streams, sockets, polls and publishes
   * are refused with 503 shutting_down and /healthz says draining, while the listener stays open;
   * WebSockets are closed with 1001, SSE streams get a last `retry:` hint and `event: error`
   * shutting_down, and held polls are answered at once with what they hold. Resolves once no
   * connection, poll or request is left; the app stops listening only then (or at SHUTDOWN_GRACE_MS).
   */
  drain(): Promise<void> {
    this.shuttingDown = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    for (const session of [...this.sessions]) session.shutdown();
    for (const poll of this.polls) poll.answerNow();
    const drained = new Promise<void>((resolve) => this.drainWaiters.push(resolve));
    this.checkDrained();
    return drained;
  }

  /** Called as anything the drain waits for ends (a session, a poll, a request). */
  checkDrained(): void {
    if (!this.shuttingDown || this.sessions.size > 0 || this.polls.size > 0 || this.metrics.requestsInFlight > 0) return;
    for (const resolve of this.drainWaiters.splice(0)) resolve();
  }

  /** After the drain: disconnects the broker. */
  async close(): Promise<void> {
    this.presence.close();
    await this.broker.close();
  }
}
