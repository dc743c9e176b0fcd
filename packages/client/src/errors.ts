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
  ) {
    super(message);
  }

  /** Whether trying again (with the same key) can help. */
  get retryable(): boolean {
    if (this.code === 'network' || this.code === 'timeout' || this.code === 'open_timeout' || this.code === 'bad_response') return true;
    return (
      this.code === 'shutting_down' ||
      this.code === 'too_many_connections' ||
      this.code === 'internal' ||
      this.code === 'slow_consumer' ||
      this.code === 'resume_required' ||
      this.code === 'broker_unavailable'
    );
  }
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
  return new RelayKitError((code ?? (response.status >= 500 ? 'internal' : 'bad_response')) as ErrorCode, message, response.status);
}
