import { SSE_HEADERS } from '@relaykit/contracts';

/**
 * The CORS policy: any origin may read the API (browsers' EventSource and fetch readers on other
 * origins), with the headers a relaykit client sends. hono/cors answers preflights with it; every
 * other answer carries the origin grant from its first header (ORIGIN_GRANT).
 */
export const CORS_OPTIONS = {
  origin: '*',
  allowMethods: ['GET', 'POST', 'OPTIONS'],
  allowHeaders: ['authorization', 'content-type', 'last-event-id'],
  maxAge: 600,
} as const;

/**
 * The origin grant every answer carries, streams (served outside the Hono app) and the HTTP API
 * alike. Set where each response is made, not by a middleware afterwards: setting a header on a
 * finished response makes @hono/node-server turn its lightweight response into a real one and
 * stream it, which on Deno's node:http cost ~60 µs of a ~250 µs publish.
 */
export const ORIGIN_GRANT: Readonly<Record<string, string>> = { 'access-control-allow-origin': CORS_OPTIONS.origin };

/**
 * Headers of an SSE stream. EventSource's GET is a CORS simple request, so the stream itself needs
 * only the origin grant; preflights (fetch readers sending Authorization) are answered by OPTIONS.
 */
export const SSE_RESPONSE_HEADERS: Readonly<Record<string, string>> = { ...SSE_HEADERS, ...ORIGIN_GRANT };

/** A JSON answer, with the origin grant; `headers` are plain, which node-edge writes as they are. */
export function json(body: unknown, status = 200, headers: Readonly<Record<string, string>> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...ORIGIN_GRANT, ...headers },
  });
}
