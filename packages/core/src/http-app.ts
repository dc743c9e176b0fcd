import { type HealthResponse, NoQuery, PollQuery, PublishQuery, type PublishResponse, PublishRequest } from '@relaykit/contracts';
import { Hono } from 'hono';
import { cors } from 'hono/cors';
import type { Principal } from './auth.js';
import { RelayError, errorResponse } from './errors.js';
import { handshakeOf } from './handshake.js';
import { CORS_OPTIONS, json } from './http-util.js';
import { nestsDeeperThan } from './json-depth.js';
import { PollWaiter } from './poll.js';
import { readBody } from './read-body.js';
import { SSE_PATH, TOPIC_EVENTS_PATH, WS_PATH } from './routes.js';
import type { SessionHost } from './session-host.js';
import { checkQuery, checkTopic, codeForIssues, describeIssues, rawJson } from './validate.js';

/** The demo page's files, by path ("/" is the page); provided by the demo package. */
export type DemoAssets = Readonly<Record<string, { type: string; body: string }>>;

/** What the HTTP API needs beyond a session host. */
export interface HttpHost extends SessionHost {
  readonly demo: DemoAssets | undefined;
  readonly shuttingDown: boolean;
  authenticate(request: Request, transport: 'publish' | 'poll'): Promise<Principal>;
  checkConnectionLimit(): void;
  /** Held long polls (a broker gap or a shutdown answers them early). */
  readonly polls: Set<PollWaiter>;
  /** Called as a held poll ends, which a shutdown's drain may wait for. */
  checkDrained(): void;
  /** Turns anything thrown while serving into the answer: a RelayError's own, else 500 (logged). */
  refusal(error: unknown, request?: Request): Response;
}

const methodNotAllowed = (allow: string) => () => {
  throw new RelayError('method_not_allowed', `allowed: ${allow}`, { allow });
};

/**
 * Every HTTP endpoint that is not a long-lived stream, as one Hono app: publish, long polling,
 * health, metrics and the demo page. SSE streams and WebSocket upgrades are routed to the
 * runtime's own edge before this (routeOf). Errors are thrown as RelayError and answered by onError.
 */
export function createHttpApp(host: HttpHost): Hono {
  const app = new Hono();
  app.use('*', cors({ ...CORS_OPTIONS, allowMethods: [...CORS_OPTIONS.allowMethods], allowHeaders: [...CORS_OPTIONS.allowHeaders] }));
  app.post(TOPIC_EVENTS_PATH, (c) => publish(host, c.req.raw, checkTopic(c.req.param('topic'))));
  app.get(TOPIC_EVENTS_PATH, (c) => poll(host, c.req.raw, checkTopic(c.req.param('topic'))));
  app.all(TOPIC_EVENTS_PATH, methodNotAllowed('GET, POST'));
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
  app.get('/metrics', (c) => {
    checkQuery(new URL(c.req.url).searchParams, NoQuery);
    return new Response(host.metrics.render(), { headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' } });
  });
  // GET is an SSE stream, served before the app.
  app.all(SSE_PATH, methodNotAllowed('GET'));
  app.all(WS_PATH, () => {
    throw new RelayError('bad_request', 'this endpoint takes a WebSocket upgrade (GET with Upgrade: websocket)', { upgrade: 'websocket' });
  });
  app.get('*', (c, next) => {
    const asset = host.demo?.[c.req.path === '/index.html' ? '/' : c.req.path];
    if (!asset) return next();
    return new Response(asset.body, { headers: { 'content-type': asset.type, 'cache-control': 'no-cache' } });
  });
  app.notFound((c) => errorResponse('not_found', `no route for ${c.req.method} ${c.req.path}`));
  app.onError((error, c) => host.refusal(error, c.req.raw));
  return app;
}

async function publish(host: HttpHost, request: Request, topic: string): Promise<Response> {
  checkQuery(new URL(request.url).searchParams, PublishQuery);
  const { maxMessageBytes, maxJsonDepth, requestTimeoutMs } = host.config;
  const body = await readBody(request, maxMessageBytes, requestTimeoutMs);
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
  const principal = await host.authenticate(request, 'publish');
  if (!(await host.auth.canPublish(principal, topic))) throw new RelayError('forbidden', `not allowed to publish to ${topic}`);
  const data = rawJson((raw as { data?: unknown }).data);
  const { envelope, duplicate } = await host.publish(topic, { ...parsed.data, data });
  const answer: PublishResponse = { id: envelope.id, duplicate };
  return json(answer, duplicate ? 200 : 201);
}

async function poll(host: HttpHost, request: Request, topic: string): Promise<Response> {
  const { url } = handshakeOf(request);
  checkQuery(url.searchParams, PollQuery);
  const query = PollQuery.safeParse({
    after: url.searchParams.get('after') || undefined,
    wait: url.searchParams.get('wait') ?? undefined,
    token: url.searchParams.get('token') ?? undefined,
  });
  if (!query.success) throw new RelayError('bad_request', describeIssues(query.error.issues));
  const principal = await host.authenticate(request, 'poll');
  if (!(await host.auth.canSubscribe(principal, topic))) throw new RelayError('forbidden', `not allowed to subscribe to ${topic}`);
  if (host.shuttingDown) throw new RelayError('shutting_down', 'server is shutting down');
  host.checkConnectionLimit();
  const waiter = new PollWaiter(host, topic);
  host.metrics.connections.poll++;
  host.polls.add(waiter);
  try {
    const answer = await waiter.run(query.data.after, query.data.wait * 1000, request.signal);
    return json(answer, 200, { 'cache-control': 'no-store' });
  } finally {
    waiter.close();
    host.polls.delete(waiter);
    host.metrics.connections.poll--;
    host.checkDrained();
  }
}
