import { ERROR_STATUS, type ErrorBody, type ErrorCode } from '@relaykit/contracts';
import { json } from './http-util.js';

/**
 * A refusal from validation, limits or auth, thrown anywhere in core and turned into the
 * transport's answer at one boundary: an HTTP error response (`toResponse`, as Hono's
 * HTTPException carries its response) or a WebSocket error frame.
 */
export class RelayError extends Error {
  override readonly name = 'RelayError';

  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Extra response headers, e.g. `Allow` for 405 or `WWW-Authenticate` for 401. */
    readonly headers: Readonly<Record<string, string>> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }

  toResponse(): Response {
    return errorResponse(this.code, this.message, this.headers);
  }
}

/** Every HTTP error has the same body: `{error:{code,message}}` with the code's status. */
export function errorResponse(code: ErrorCode, message: string, headers: Readonly<Record<string, string>> = {}): Response {
  const body: ErrorBody = { error: { code, message } };
  return json(body, ERROR_STATUS[code], headers);
}

/**
 * The RelayError a thrown error stands for: itself, or broker_unavailable for a broker's own
 * retryable failure (an error whose `code` says so, e.g. RedisBroker's BrokerUnavailableError);
 * undefined for anything else, which is a bug to report as internal.
 */
export function asRelayError(error: unknown): RelayError | undefined {
  if (error instanceof RelayError) return error;
  if ((error as { code?: unknown } | null)?.code === 'broker_unavailable') {
    return new RelayError('broker_unavailable', 'the broker is unavailable; retry later or on another instance', { 'retry-after': '1' }, { cause: error });
  }
  return undefined;
}

/** A refusal for a limit: `rate_limited` (429) with Retry-After in whole seconds, also stated in the message. */
export function rateLimitedError(what: string, retryAfterS: number): RelayError {
  return new RelayError('rate_limited', `${what}; retry in ${retryAfterS} s`, { 'retry-after': String(retryAfterS) });
}
