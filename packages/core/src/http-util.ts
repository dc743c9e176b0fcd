import { ERROR_STATUS, type ErrorBody, type ErrorCode, SSE_HEADERS } from '@relaykit/contracts';

export const CORS_HEADERS: Readonly<Record<string, string>> = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, POST, OPTIONS',
  'access-control-allow-headers': 'authorization, content-type, last-event-id',
  'access-control-max-age': '600',
};

/**
 * Headers of an SSE stream. EventSource's GET is a CORS simple request, so the stream itself needs
 * only the origin grant; preflights (fetch readers sending Authorization) are answered by OPTIONS.
 */
export const SSE_RESPONSE_HEADERS: Readonly<Record<string, string>> = {
  ...SSE_HEADERS,
  'access-control-allow-origin': '*',
};

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...CORS_HEADERS, ...headers },
  });
}

/** Every HTTP error has the same body: `{error:{code,message}}` with the code's status. */
export function errorResponse(code: ErrorCode, message: string, headers: Record<string, string> = {}): Response {
  const body: ErrorBody = { error: { code, message } };
  return json(body, ERROR_STATUS[code], headers);
}

/** A rejection from validation or auth, carried to whichever transport must report it. */
export class RelayError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}
