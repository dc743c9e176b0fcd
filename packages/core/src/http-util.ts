import { SSE_HEADERS } from '@relaykit/contracts';

/** The CORS grant of a public server (ALLOWED_ORIGINS unset): any page may read the API. */
export const PUBLIC_CORS_HEADERS: Readonly<Record<string, string>> = Object.freeze({ 'access-control-allow-origin': '*' });

/**
 * The CORS policy: the headers a relaykit client sends, for the origins OriginPolicy grants (any
 * origin when ALLOWED_ORIGINS is unset). hono/cors applies it to the HTTP API.
 */
export const CORS_OPTIONS = {
  allowMethods: ['GET', 'POST', 'OPTIONS'],
  allowHeaders: ['authorization', 'content-type', 'last-event-id'],
  // A browser client on another origin must see how long a 429 asks it to wait, and which
  // connection its SSE stream is in presence.
  exposeHeaders: ['retry-after', 'relaykit-connection-id'],
  maxAge: 600,
} as const;

/** What a cross-origin reader may see beyond the simple headers: how long a 429 or a 503 asks it to wait. */
export const EXPOSED_HEADERS: Readonly<Record<string, string>> = Object.freeze({ 'access-control-expose-headers': CORS_OPTIONS.exposeHeaders.join(', ') });

/**
 * Headers of an SSE stream on a public server. EventSource's GET is a CORS simple request, so the
 * stream itself needs only the origin grant; preflights (fetch readers sending Authorization) are
 * answered by OPTIONS.
 */
export const SSE_RESPONSE_HEADERS: Readonly<Record<string, string>> = { ...SSE_HEADERS, ...PUBLIC_CORS_HEADERS, ...EXPOSED_HEADERS };


/**
 * A JSON answer, with the public grant; `headers` are plain, which node-edge writes as they are.
 * The grant is set where each answer is made, not by a middleware afterwards: setting a header on
 * a finished response makes @hono/node-server turn its lightweight response into a real one and
 * stream it, which on Deno's node:http cost ~60 µs of a ~250 µs publish. With ALLOWED_ORIGINS set,
 * OriginPolicy.grant replaces it per request (a slower path, only then).
 */
export function json(body: unknown, status = 200, headers: Readonly<Record<string, string>> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...PUBLIC_CORS_HEADERS, ...EXPOSED_HEADERS, ...headers },
  });
}
