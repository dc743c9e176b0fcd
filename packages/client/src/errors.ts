import type { ErrorCode, SseEndCode } from '@relaykit/contracts';

/** Error codes the client adds to the server's own. */
export type ClientErrorCode = 'network' | 'timeout' | 'closed' | 'open_timeout' | 'bad_response';

/** An error from the server (`code` is one of the protocol's) or from the client itself. */
export class RelayKitError extends Error {
  override readonly name = 'RelayKitError';
  constructor(
    /** A protocol error code, why the server ended an SSE stream, or the client's own. */
    readonly code: ErrorCode | SseEndCode | ClientErrorCode,
    message: string,
    /** HTTP status, when the error came as an HTTP answer. */
    readonly status?: number,
    /** How long the server asked to wait before trying again (a 429's or 503's Retry-After), in ms. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }

  /** Whether trying again (with the same key) can help. */
  get retryable(): boolean {
    if (this.code === 'network' || this.code === 'timeout' || this.code === 'open_timeout' || this.code === 'bad_response') return true;
    // token_expired: the next try gets a new token. The *_unavailable codes are outages of the
    // server's broker or key set, which end by themselves (or on another instance); rate_limited after
    // its Retry-After; slow_consumer and resume_required end a stream to be resumed.
    return (
      this.code === 'shutting_down' ||
      this.code === 'too_many_connections' ||
      this.code === 'internal' ||
      this.code === 'token_expired' ||
      this.code === 'slow_consumer' ||
      this.code === 'resume_required' ||
      this.code === 'broker_unavailable' ||
      this.code === 'auth_unavailable' ||
      this.code === 'rate_limited'
    );
  }
}

/**
 * The least wait before trying again after `rate_limited` when the server named none (a WebSocket
 * error frame or close 4029 carries no Retry-After): the server's buckets refill at whole
 * seconds' granularity as far as clients are told, so sooner only collects more refusals.
 */
export const RATE_LIMITED_MIN_WAIT_MS = 1000;

/** How long to wait at least before trying again after `error`: its Retry-After, 1 s for a bare rate_limited, else 0. */
export function minimumWaitMs(error: RelayKitError): number {
  if (error.retryAfterMs !== undefined) return error.retryAfterMs;
  return error.code === 'rate_limited' ? RATE_LIMITED_MIN_WAIT_MS : 0;
}

/** A Retry-After header in seconds (the form relaykit sends; an HTTP date is read too), in ms. */
function retryAfterOf(response: Response): number | undefined {
  const value = response.headers.get('retry-after');
  if (value === null) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** Reads `{error:{code,message}}` from a failed HTTP answer. */
export async function errorFromResponse(response: Response): Promise<RelayKitError> {
  let code: string | undefined;
  let message = `HTTP ${response.status}`;
  try {
    const body = (await response.json()) as { error?: { code?: unknown; message?: unknown } };
    if (typeof body?.error?.code === 'string') code = body.error.code;
    if (typeof body?.error?.message === 'string') message = body.error.message;
  } catch {
    // not JSON: keep the status
  }
  return new RelayKitError((code ?? (response.status >= 500 ? 'internal' : 'bad_response')) as ErrorCode, message, response.status, retryAfterOf(response));
}
