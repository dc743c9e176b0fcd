// The app-facing API: what a runtime's app needs to serve relaykit.
export { Relay, type RelayOptions } from './relay.js';
export { type Route, SSE_PATH, WS_PATH } from './routes.js';
export { type HandshakeRequest, type HeaderRecord, handshakeOf, handshakeOfHeaders } from './handshake.js';
export { RelayError, errorResponse } from './errors.js';
export { SSE_RESPONSE_HEADERS, json } from './http-util.js';
export { CONNECTION_ID_HEADER } from './sse-session.js';
export { type Logger, type LogFields, jsonLogger } from './log.js';
export { shutdownOnce, type ShutdownPlan } from './shutdown.js';
export { superviseWorkers, type WorkerPlan, type WorkerProcess, WORKER_ENV } from './workers.js';
export { type TlsAccess, type TlsFiles, loadConfig, loadTls } from './load-config.js';
export { type AuthHooks, type AuthRequest, type Principal, allowAll, tokenFrom, TOKEN_COOKIE } from './auth.js';
export { jwtAuth, type JwtAuthOptions } from './jwt-auth.js';
export type { DemoAssets, HttpEdge } from './http-app.js';
