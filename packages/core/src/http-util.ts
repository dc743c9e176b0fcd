import { SSE_HEADERS } from '@relaykit/contracts';

/**
 * The CORS policy: any origin may read the API (browsers' EventSource and fetch readers on other
 * origins), with the headers a relaykit client sends. hono/cors applies it to the HTTP API.
 */
export const CORS_OPTIONS = {
  origin: '*',
  allowMethods: ['GET', 'POST', 'OPTIONS'],
  allowHeaders: ['authorization', 'content-type', 'last-event-id'],
  // A browser client on another origin must see how long a 429 asks it to wait.
  exposeHeaders: ['retry-after'],
  maxAge: 600,
} as const;

/** The origin grant a stream answer (or its refusal) carries: they are served outside the Hono app. */
export const STREAM_CORS_HEADERS: Readonly<Record<string, string>> = { 'access-control-allow-origin': CORS_OPTIONS.origin };

/** What a refused stream or upgrade lets a cross-origin reader see (Retry-After of a 429). */
export const STREAM_EXPOSED_HEADERS: Readonly<Record<string, string>> = { 'access-control-expose-headers': CORS_OPTIONS.exposeHeaders.join(', ') };

/**
 * Headers of an SSE stream. EventSource's GET is a CORS simple request, so the stream itself needs
 * only the origin grant; preflights (fetch readers sending Authorization) are answered by OPTIONS.
 */
export const SSE_RESPONSE_HEADERS: Readonly<Record<string, string>> = { ...SSE_HEADERS, ...STREAM_CORS_HEADERS };

export function json(body: unknown, status = 200, headers: Readonly<Record<string, string>> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
  });
}
