import { type HealthResponse, PollQuery, type PublishResponse, PublishRequest } from '@relaykit/contracts';
import { CORS_HEADERS, RelayError, errorResponse, json } from './http-util.js';
import { nestsDeeperThan } from './json-depth.js';
import { PollWaiter } from './poll.js';
import { readBody } from './read-body.js';
import type { Relay } from './relay.js';
import { checkTopic, codeForIssues, describeIssues, rawJson } from './validate.js';

/** The demo page's files, by path ("/" is the page); provided by the demo package. */
export type DemoAssets = Readonly<Record<string, { type: string; body: string }>>;

const TOPIC_EVENTS = /^\/v1\/topics\/([^/]+)\/events$/;

/**
 * Every HTTP endpoint that is not a long-lived stream: publish, long polling, health, metrics and
 * the demo page. SSE and WebSocket handshakes are taken by the runtime before this.
 */
export async function handleHttp(relay: Relay, request: Request): Promise<Response> {
  const url = new URL(request.url);
  const { pathname } = url;
  try {
    if (request.method === 'OPTIONS') return new Response(null, { status: 204, headers: CORS_HEADERS });

    const topicMatch = TOPIC_EVENTS.exec(pathname);
    if (topicMatch) {
      const topic = checkTopic(safeDecode(topicMatch[1]!));
      if (request.method === 'POST') return await publish(relay, request, url, topic);
      if (request.method === 'GET' || request.method === 'HEAD') return await poll(relay, request, url, topic);
      return methodNotAllowed('GET, POST');
    }

    switch (pathname) {
      case '/healthz': {
        const body: HealthResponse = {
          status: 'ok',
          server: relay.serverName,
          uptimeS: Math.round((Date.now() - relay.metrics.startedAt) / 1000),
          connections: relay.metrics.openConnections,
        };
        return json(body, relay.shuttingDown ? 503 : 200);
      }
      case '/metrics':
        return new Response(relay.metrics.render(), {
          headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' },
        });
      case '/v1/events':
        return methodNotAllowed('GET');
      case '/v1/ws':
        return errorResponse('bad_request', 'this endpoint takes a WebSocket upgrade (GET with Upgrade: websocket)', {
          upgrade: 'websocket',
        });
    }

    const asset = relay.demo?.[pathname === '/index.html' ? '/' : pathname];
    if (asset && (request.method === 'GET' || request.method === 'HEAD')) {
      return new Response(asset.body, { headers: { 'content-type': asset.type, 'cache-control': 'no-cache' } });
    }
    return errorResponse('not_found', `no route for ${request.method} ${pathname}`);
  } catch (error) {
    if (error instanceof RelayError) {
      relay.metrics.rejected++;
      return errorResponse(error.code, error.message);
    }
    console.error('relaykit: unexpected error handling', request.method, pathname, error);
    return errorResponse('internal', 'internal error');
  }
}

function methodNotAllowed(allow: string): Response {
  return errorResponse('method_not_allowed', `allowed: ${allow}`, { allow });
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

async function publish(relay: Relay, request: Request, url: URL, topic: string): Promise<Response> {
  const { maxMessageBytes, maxJsonDepth, requestTimeoutMs } = relay.config;
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
  const principal = await relay.authenticateRequest(request, url);
  if (!(await relay.auth.canPublish(principal, topic))) throw new RelayError('forbidden', `not allowed to publish to ${topic}`);
  const data = rawJson((raw as { data?: unknown }).data);
  const { envelope, duplicate } = await relay.publish(topic, { ...parsed.data, data });
  const answer: PublishResponse = { id: envelope.id, duplicate };
  return json(answer, duplicate ? 200 : 201);
}

async function poll(relay: Relay, request: Request, url: URL, topic: string): Promise<Response> {
  const query = PollQuery.safeParse({
    after: url.searchParams.get('after') || undefined,
    wait: url.searchParams.get('wait') ?? undefined,
  });
  if (!query.success) throw new RelayError('bad_request', describeIssues(query.error.issues));
  const principal = await relay.authenticateRequest(request, url, 'poll');
  if (!(await relay.auth.canSubscribe(principal, topic))) throw new RelayError('forbidden', `not allowed to subscribe to ${topic}`);
  relay.checkConnectionLimit();
  const waiter = new PollWaiter(relay, topic);
  relay.metrics.connections.poll++;
  try {
    const answer = await waiter.run(query.data.after, query.data.wait * 1000, request.signal);
    return json(answer, 200, { 'cache-control': 'no-store' });
  } finally {
    waiter.close();
    relay.metrics.connections.poll--;
  }
}
