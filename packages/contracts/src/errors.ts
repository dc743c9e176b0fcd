import { z } from 'zod';

/** Every error a server reports, on any transport, carries one of these codes. */
export const ErrorCode = z
  .enum([
    'bad_json', // the frame or body is not JSON
    'bad_request', // valid JSON that violates the schema (unknown frame type included)
    'binary_not_supported', // a binary WebSocket frame
    'message_too_large', // over MAX_MESSAGE_BYTES
    'request_timeout', // the request body did not arrive within REQUEST_TIMEOUT_MS
    'invalid_topic',
    'invalid_event_type',
    'too_many_topics', // over MAX_TOPICS_PER_CONNECTION
    'unauthorized', // no or bad credentials
    'token_expired', // the token's `exp` has passed: get a new token and reconnect (or refresh)
    'token_exp_required', // AUTH_REQUIRE_EXP is on and the token has no `exp`
    'forbidden', // credentials fine, topic not allowed
    'origin_not_allowed', // ALLOWED_ORIGINS is set and the request's Origin is neither listed nor the server's own
    'not_found',
    'method_not_allowed',
    'too_many_connections', // over MAX_CONNECTIONS
    'rate_limited', // over PUBLISH_RATE, CONNECT_RATE or SUBSCRIBE_RATE; retry after Retry-After seconds
    'shutting_down',
    'broker_unavailable', // the broker (Redis) cannot be reached; retry later or elsewhere
    'auth_unavailable', // the token keys (AUTH_JWKS_URL) cannot be fetched; retry later
    'internal',
  ])
  .describe('Error code');
export type ErrorCode = z.infer<typeof ErrorCode>;

export const ErrorBody = z
  .object({ error: z.object({ code: ErrorCode, message: z.string() }).strict() })
  .strict()
  .describe('HTTP error body (4xx/5xx)');
export type ErrorBody = z.infer<typeof ErrorBody>;

/** HTTP status for each error code, so every server answers the same. */
export const ERROR_STATUS: Record<ErrorCode, number> = {
  bad_json: 400,
  bad_request: 400,
  binary_not_supported: 400,
  message_too_large: 413,
  request_timeout: 408,
  invalid_topic: 400,
  invalid_event_type: 400,
  too_many_topics: 400,
  unauthorized: 401,
  token_expired: 401,
  token_exp_required: 401,
  forbidden: 403,
  origin_not_allowed: 403,
  not_found: 404,
  method_not_allowed: 405,
  too_many_connections: 503,
  rate_limited: 429,
  shutting_down: 503,
  broker_unavailable: 503,
  auth_unavailable: 503,
  internal: 500,
};

/** WebSocket close codes the servers use (RFC 6455 section 7.4 plus the private 4000-4999 range). */
export const CloseCode = {
  normal: 1000,
  /** Server shutting down: reconnect to another instance or later. */
  goingAway: 1001,
  /** A frame that breaks RFC 6455 framing (an unmasked client frame, a bad opcode). */
  protocolError: 1002,
  /** A text frame that is not valid UTF-8. */
  invalidPayload: 1007,
  /** A frame over MAX_MESSAGE_BYTES, refused by its declared length before it is buffered. */
  messageTooBig: 1009,
  /**
   * The peer stopped answering heartbeats: going away with HEARTBEAT_TIMEOUT_REASON, then the
   * connection is dropped (a dead peer sees nothing). 1001 because Deno's own idleTimeout, the
   * liveness mechanism there, closes with it; every runtime does the same.
   */
  heartbeatTimeout: 1001,
  /**
   * The connection's token reached its `exp` and no `refresh` frame replaced it in time: get a new
   * token, reconnect and resume.
   */
  tokenExpired: 4001,
  /** The connection fell too far behind (send buffer over its bound); reconnect and resume. */
  slowConsumer: 4008,
  /**
   * The server may have missed events for this connection (its broker link dropped and the
   * history no longer reaches back): reconnect and resume, and the resume says what was lost.
   */
  resumeRequired: 4009,
  /** The client kept sending frames over its rate limit (RATE_LIMIT_STRIKES refusals in a window). */
  rateLimited: 4029,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** The close reason of a heartbeat timeout (Deno's wording, which the other runtimes match). */
export const HEARTBEAT_TIMEOUT_REASON = 'No response from ping frame.';
/** The close reason of close code 4001. */
export const TOKEN_EXPIRED_REASON = 'token expired';

/** The close reason of a connection closed for exceeding its rate limits. */
export const RATE_LIMITED_REASON = 'rate limited';
/** The close reason of a graceful shutdown. */
export const SHUTDOWN_REASON = 'server shutting down';

/**
 * Why the server ended an SSE stream: the `code` of the `event: error` it sends just before the end
 * (PROTOCOL.md 3), one rule for every reason. The client reconnects after `retry` and resumes.
 */
export const SseEndCode = z
  .enum([
    'shutting_down', // the server is stopping: reconnect (elsewhere) and resume
    'slow_consumer', // the stream's unsent data grew past MAX_BUFFERED_BYTES (as WebSocket 4008)
    'resume_required', // the server may have missed events (as WebSocket 4009)
    'broker_unavailable', // the broker failed while the stream was opening
    'token_expired', // the token's exp has passed (as WebSocket 4001): reconnect with a new token
  ])
  .describe('Why the server ended an SSE stream');
export type SseEndCode = z.infer<typeof SseEndCode>;

/** `data` of the SSE `event: error` that precedes every server-side end of a stream. */
export const SseEndData = z.object({ code: SseEndCode }).strict();
export type SseEndData = z.infer<typeof SseEndData>;

/** The close reason of a frame over MAX_MESSAGE_BYTES, the same on every runtime (Bun's uWS wording, which the others match). */
export const MESSAGE_TOO_BIG_REASON = 'Received too big message';

/** Cannot-resume signal codes (SSE `event: reset`, WS `reset` frame, long-poll `reset`). */
export const ResetCode = z.enum(['history_unavailable']).describe('Why replay is incomplete');
export type ResetCode = z.infer<typeof ResetCode>;
