import { RelayError } from './errors.js';

export const SSE_PATH = '/v1/events';
export const WS_PATH = '/v1/ws';
/** Publish (POST) and long polling (GET) of one topic. */
export const TOPIC_EVENTS_PATH = '/v1/topics/:topic/events';
/** A page of one topic's history (GET). */
export const TOPIC_HISTORY_PATH = '/v1/topics/:topic/history';
/** Who holds one topic (GET). */
export const TOPIC_PRESENCE_PATH = '/v1/topics/:topic/presence';

/**
 * Which edge serves a request. Streams and WebSockets are each runtime's own fastest path; every
 * other request is the Hono app's (`Relay.fetch`).
 */
export type Route = 'sse' | 'ws' | 'http';

/**
 * The route table's first step, the same on every runtime: a WebSocket upgrade (only
 * `Upgrade: websocket`; any other Upgrade, e.g. h2c, is served normally), an SSE stream, or HTTP.
 * An upgrade that can never succeed throws the RelayError to answer instead.
 */
export function routeOf(method: string, pathname: string, upgrade: string | null): Route {
  if (upgrade !== null && upgrade.toLowerCase() === 'websocket') {
    if (pathname !== WS_PATH) throw new RelayError('not_found', `no WebSocket endpoint at ${pathname}; use ${WS_PATH}`);
    if (method !== 'GET') throw new RelayError('bad_request', 'a WebSocket handshake must be a GET request');
    return 'ws';
  }
  if (pathname === SSE_PATH && method === 'GET') return 'sse';
  return 'http';
}
