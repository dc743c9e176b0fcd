/**
 * The conformance harness, one module per concern: the target server (target), waiting
 * (collector), the WebSocket client (ws-client), the SSE stream (sse-stream), HTTP helpers (http),
 * server facts (facts), JSON depth (json), JWTs and a JWKS server (jwt), raw TCP/HTTP (raw-socket) and raw WebSocket frames (raw-ws).
 */
export * from './collector.ts';
export * from './facts.ts';
export * from './http.ts';
export * from './json.ts';
export * from './jwt.ts';
export * from './raw-socket.ts';
export * from './raw-ws.ts';
export * from './sse-stream.ts';
export * from './target.ts';
export * from './ws-client.ts';
export * from './from-address.ts';
