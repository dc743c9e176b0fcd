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
  maxAge: 600,
} as const;

/**
 * Headers of an SSE stream on a public server. EventSource's GET is a CORS simple request, so the
 * stream itself needs only the origin grant; preflights (fetch readers sending Authorization) are
 * answered by OPTIONS.
 */
export const SSE_RESPONSE_HEADERS: Readonly<Record<string, string>> = { ...SSE_HEADERS, ...PUBLIC_CORS_HEADERS };

export function json(body: unknown, status = 200, headers: Readonly<Record<string, string>> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
  });
}
