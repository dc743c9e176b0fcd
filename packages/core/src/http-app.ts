import { HISTORY_DEFAULT_LIMIT, type HealthResponse, HistoryQuery, type HistoryResponse, NoQuery, PresenceQuery, PollQuery, PublishQuery, type PublishResponse, PublishRequest } from '@relaykit/contracts';
import { Hono } from 'hono';
import { cors } from 'hono/cors';
import type { Principal } from './auth.js';
import { bearerCheck } from './bearer-check.js';
import type { ClientLimitKind } from './client-limits.js';
import { RelayError, errorResponse } from './errors.js';
import { type HandshakeRequest, handshakeOf } from './handshake.js';
import { CORS_OPTIONS, PUBLIC_CORS_HEADERS, json } from './http-util.js';
import { nestsDeeperThan } from './json-depth.js';
import { PollWaiter } from './poll.js';
import type { OriginPolicy } from './origin.js';
import { readBody, receivedBody } from './read-body.js';
import { SSE_PATH, TOPIC_EVENTS_PATH, TOPIC_HISTORY_PATH, TOPIC_PRESENCE_PATH, WS_PATH } from './routes.js';
import type { SessionHost } from './session-host.js';
import { checkQuery, checkTopic, codeForIssues, describeIssues, rawJson } from './validate.js';

/** The demo page's files, by path ("/" is the page); provided by the demo package. */
export type DemoAssets = Readonly<Record<string, { type: string; body: string }>>;

/** What the HTTP API needs beyond a session host. */
export interface HttpHost extends SessionHost {
  readonly demo: DemoAssets | undefined;
  readonly shuttingDown: boolean;
  readonly origins: OriginPolicy;
  authenticate(request: HandshakeRequest, transport: 'publish' | 'poll' | 'history' | 'presence'): Promise<Principal>;
  checkConnectionLimit(): void;
  /** Takes one unit of a per-IP limit for the request's client; throws rate_limited when there is none. */
  limitClient(kind: ClientLimitKind, request: HandshakeRequest): void;
  /** Held long polls (a broker gap or a shutdown answers them early). */
  readonly polls: Set<PollWaiter>;
  /** Called as a held poll ends, which a shutdown's drain may wait for. */
  checkDrained(): void;
  /** Turns anything thrown while serving into the answer: a RelayError's own, else 500 (logged). */
  refusal(error: unknown, request?: Request): Response;
}

/**
 * What the runtime's edge hands the app with a request (Hono's bindings, `c.env`): the socket's
 * remote address, which per-IP limits count by, and on node-edge the body, read into one buffer of
 * its own before the app sees it so that the app does not read it again through a Web stream.
 */
export interface HttpEdge {
  readonly peer?: string | undefined;
  /** The request body as received: at most MAX_MESSAGE_BYTES + 1 bytes (one more says it was over). */
  readonly body?: Uint8Array | undefined;
}
export type HttpApp = Hono<{ Bindings: HttpEdge }>;

const methodNotAllowed = (allow: string) => () => {
  throw new RelayError('method_not_allowed', `allowed: ${allow}`, { allow });
};

/**
 * Every HTTP endpoint that is not a long-lived stream, as one Hono app: publish, long polling,
 * health, metrics and the demo page. SSE streams and WebSocket upgrades are routed to the
 * runtime's own edge before this (routeOf). Errors are thrown as RelayError and answered by onError.
 */
export function createHttpApp(host: HttpHost): HttpApp {
  const app: HttpApp = new Hono();
  const { origins } = host;
  if (origins.restricted) {
    // Before CORS: a foreign page gets no grant, its preflight included; a listed one gets its own
    // grant in place of the public `*` that answers carry (onError has answered a throw by then).
    app.use('*', async (c, next) => {
      const origin = c.req.header('origin') ?? null;
      try {
        origins.check(handshakeOf(c.req.raw));
      } catch (error) {
        return host.refusal(error, c.req.raw);
      }
      await next();
      origins.grant(c.res.headers, origin);
    });
  }
  // Preflights only: every other answer carries its grant from where it is made (http-util's json).
  const grant = origins.restricted ? (origin: string) => origins.corsHeaders(origin)['access-control-allow-origin'] : '*';
  app.options('*', cors({ ...CORS_OPTIONS, origin: grant, allowMethods: [...CORS_OPTIONS.allowMethods], allowHeaders: [...CORS_OPTIONS.allowHeaders], exposeHeaders: [...CORS_OPTIONS.exposeHeaders] }));
  app.post(TOPIC_EVENTS_PATH, (c) => publish(host, c.req.raw, checkTopic(c.req.param('topic')), c.env));
  app.get(TOPIC_EVENTS_PATH, (c) => poll(host, c.req.raw, checkTopic(c.req.param('topic')), c.env?.peer));
  app.all(TOPIC_EVENTS_PATH, methodNotAllowed('GET, POST'));
  app.get(TOPIC_HISTORY_PATH, (c) => history(host, c.req.raw, checkTopic(c.req.param('topic')), c.env?.peer));
  app.all(TOPIC_HISTORY_PATH, methodNotAllowed('GET'));
  app.get(TOPIC_PRESENCE_PATH, (c) => presence(host, c.req.raw, checkTopic(c.req.param('topic')), c.env?.peer));
  app.all(TOPIC_PRESENCE_PATH, methodNotAllowed('GET'));
  app.get('/healthz', (c) => {
    checkQuery(new URL(c.req.url).searchParams, NoQuery);
    const brokerOk = host.hub.broker.available?.() ?? true;
    const body: HealthResponse = {
      status: host.shuttingDown ? 'draining' : brokerOk ? 'ok' : 'degraded',
      server: host.serverName,
      uptimeS: Math.round((Date.now() - host.metrics.startedAt) / 1000),
      connections: host.metrics.openConnections,
      broker: brokerOk ? 'ok' : 'unavailable',
    };
    return json(body, body.status === 'ok' ? 200 : 503);
  });
  const metricsAllowed = host.config.metricsToken ? bearerCheck(host.config.metricsToken) : undefined;
  app.get('/metrics', async (c) => {
    checkQuery(new URL(c.req.url).searchParams, NoQuery);
    if (metricsAllowed && !(await metricsAllowed(c.req.header('authorization') ?? null))) {
      throw new RelayError('unauthorized', 'GET /metrics needs Authorization: Bearer <METRICS_TOKEN>', { 'www-authenticate': 'Bearer' });
    }
    return new Response(host.metrics.render(), { headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', ...PUBLIC_CORS_HEADERS } });
  });
  // GET is an SSE stream, served before the app.
  app.all(SSE_PATH, methodNotAllowed('GET'));
  app.all(WS_PATH, () => {
    throw new RelayError('bad_request', 'this endpoint takes a WebSocket upgrade (GET with Upgrade: websocket)', { upgrade: 'websocket' });
  });
  app.get('*', (c, next) => {
    const asset = host.demo?.[c.req.path === '/index.html' ? '/' : c.req.path];
    if (!asset) return next();
    return new Response(asset.body, { headers: { 'content-type': asset.type, 'cache-control': 'no-cache', ...PUBLIC_CORS_HEADERS } });
  });
  app.notFound((c) => errorResponse('not_found', `no route for ${c.req.method} ${c.req.path}`));
  app.onError((error, c) => host.refusal(error, c.req.raw));
  return app;
}

async function publish(host: HttpHost, request: Request, topic: string, edge: HttpEdge | undefined): Promise<Response> {
  const handshake = handshakeOf(request, undefined, edge?.peer);
  // First: a refused publish costs neither reading its body nor auth.
  host.limitClient('publish', handshake);
  checkQuery(handshake.url.searchParams, PublishQuery);
  const { maxMessageBytes, maxJsonDepth, requestTimeoutMs } = host.config;
  const body = edge?.body ? receivedBody(request, edge.body, maxMessageBytes) : await readBody(request, maxMessageBytes, requestTimeoutMs);
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch {
    throw new RelayError('bad_json', 'body is not valid JSON');
  }
  // Before zod, whose z.json() recurses once per level; the body wraps `data` in one level.
  if (nestsDeeperThan(body, maxJsonDepth + 1)) throw new RelayError('bad_request', `data nests deeper than MAX_JSON_DEPTH (${maxJsonDepth})`);
  const parsed = PublishRequest.safeParse(raw);
  if (!parsed.success) throw new RelayError(codeForIssues(parsed.error.issues), describeIssues(parsed.error.issues));
  const principal = await host.authenticate(handshake, 'publish');
  if (!(await host.auth.canPublish(principal, topic))) throw new RelayError('forbidden', `not allowed to publish to ${topic}`);
  const data = rawJson((raw as { data?: unknown }).data);
  const { envelope, duplicate } = await host.publish(topic, { ...parsed.data, data });
  const answer: PublishResponse = { id: envelope.id, duplicate };
  return json(answer, duplicate ? 200 : 201);
}

async function poll(host: HttpHost, request: Request, topic: string, peer: string | undefined): Promise<Response> {
  const handshake = handshakeOf(request, undefined, peer);
  host.limitClient('connect', handshake);
  const { url } = handshake;
  checkQuery(url.searchParams, PollQuery);
  const query = PollQuery.safeParse({
    after: url.searchParams.get('after') || undefined,
    wait: url.searchParams.get('wait') ?? undefined,
    token: url.searchParams.get('token') ?? undefined,
  });
  if (!query.success) throw new RelayError('bad_request', describeIssues(query.error.issues));
  const principal = await host.authenticate(handshake, 'poll');
  if (!(await host.auth.canSubscribe(principal, topic))) throw new RelayError('forbidden', `not allowed to subscribe to ${topic}`);
  if (host.shuttingDown) throw new RelayError('shutting_down', 'server is shutting down');
  host.checkConnectionLimit();
  const waiter = new PollWaiter(host, topic);
  host.metrics.connections.poll++;
  host.polls.add(waiter);
  try {
    // A poll is answered by its token's exp at the latest; the next one is refused token_expired.
    const waitMs = Math.min(query.data.wait * 1000, principal.expiresAt === undefined ? Infinity : Math.max(0, principal.expiresAt - Date.now()));
    const answer = await waiter.run(query.data.after, waitMs, request.signal);
    return json(answer, 200, { 'cache-control': 'no-store' });
  } finally {
    waiter.close();
    host.polls.delete(waiter);
    host.metrics.connections.poll--;
    host.checkDrained();
  }
}

async function history(host: HttpHost, request: Request, topic: string, peer: string | undefined): Promise<Response> {
  const handshake = handshakeOf(request, undefined, peer);
  // A read that costs a broker call, counted as a poll is.
  host.limitClient('connect', handshake);
  const { url } = handshake;
  checkQuery(url.searchParams, HistoryQuery);
  const query = HistoryQuery.safeParse({
    limit: url.searchParams.get('limit') ?? undefined,
    before: url.searchParams.get('before') || undefined,
    token: url.searchParams.get('token') ?? undefined,
  });
  if (!query.success) throw new RelayError('bad_request', describeIssues(query.error.issues));
  // HISTORY_SIZE=0 holds nothing, but a read of it is still answered (with the reset where due).
  const max = Math.max(1, host.config.historySize);
  const limit = query.data.limit ?? Math.min(HISTORY_DEFAULT_LIMIT, max);
  if (limit > max) throw new RelayError('bad_request', `limit: at most ${max} (HISTORY_SIZE)`);
  const principal = await host.authenticate(handshake, 'history');
  if (!(await host.auth.canSubscribe(principal, topic))) throw new RelayError('forbidden', `not allowed to subscribe to ${topic}`);
  if (host.shuttingDown) throw new RelayError('shutting_down', 'server is shutting down');
  const page = await host.hub.broker.history(topic, limit, query.data.before);
  const answer: HistoryResponse = { events: page.events, position: page.position };
  if (page.reset) answer.reset = { code: 'history_unavailable', topics: [topic] };
  return json(answer, 200, { 'cache-control': 'no-store' });
}

async function presence(host: HttpHost, request: Request, topic: string, peer: string | undefined): Promise<Response> {
  const handshake = handshakeOf(request, undefined, peer);
  // A read that costs a broker call (on Redis), counted as a poll is.
  host.limitClient('connect', handshake);
  checkQuery(handshake.url.searchParams, PresenceQuery);
  const principal = await host.authenticate(handshake, 'presence');
  if (!(await host.auth.canSubscribe(principal, topic))) throw new RelayError('forbidden', `not allowed to subscribe to ${topic}`);
  if (host.shuttingDown) throw new RelayError('shutting_down', 'server is shutting down');
  return json(await host.presence.read(topic), 200, { 'cache-control': 'no-store' });
}
