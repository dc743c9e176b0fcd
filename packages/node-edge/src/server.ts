import { createServer, type Server } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import type { Relay } from '@relaykit/core';
import { serveSse } from './sse.js';
import { isWebSocketUpgrade, serveWs } from './ws.js';

/**
 * The node:http server of a relay: SSE streams on plain responses, WebSocket upgrades through
 * ws, every other request through @hono/node-server to the relay's Hono app. The same on Node and
 * on Deno's node:http, which is the Deno app's path (apps/deno/README.md says why).
 */
export function createRelayServer(relay: Relay): Server {
  const { config } = relay;
  const serveHttp = getRequestListener(relay.fetch);
  const server = createServer(
    {
      // Heads and bodies must arrive within REQUEST_TIMEOUT_MS; the check runs at the interval, so it is a fraction of it.
      headersTimeout: config.requestTimeoutMs,
      requestTimeout: config.requestTimeoutMs,
      connectionsCheckingInterval: Math.min(1000, config.requestTimeoutMs / 2),
      // Only WebSocket upgrades leave the request listener; any other Upgrade (h2c) is served as usual.
      shouldUpgradeCallback: isWebSocketUpgrade,
    },
    (req, res) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (relay.route(req.method ?? 'GET', url.pathname, null) === 'sse') void serveSse(relay, req, res, url);
      else void serveHttp(req, res);
    },
  );
  server.on('upgrade', (req, socket, head) => void serveWs(relay, req, socket, head));
  return server;
}

/** Stops accepting and resolves once open requests are done; idle keep-alive sockets go at once. */
export function stopListening(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}
