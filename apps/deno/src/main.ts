import { createServer } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { listeningLine } from '@relaykit/contracts';
import { Relay, loadConfig, shutdownOnce } from '@relaykit/core';
import { demoAssets as demo } from '@relaykit/demo';
import { serveSse } from './sse.ts';
import { isWebSocketUpgrade, serveWs } from './ws.ts';

const config = loadConfig(Deno.env.toObject(), (code) => Deno.exit(code));
const relay = new Relay({ config, serverName: 'deno', demo });
const serveHttp = getRequestListener(relay.fetch);

/**
 * Deno's node:http, not Deno.serve: in Deno 2.9.6 Deno.serve has no header or body timeout and
 * Deno.upgradeWebSocket no frame limit, masking or UTF-8 check (README.md). Deno's node:http
 * enforces headersTimeout/requestTimeout as Node does, and its `upgrade` event hands over the
 * socket that `ws` needs (ws.ts).
 */
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

server.listen(config.port, config.host, async () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  await relay.start();
  relay.log.info(listeningLine('deno', `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`));
});

const shutdown = shutdownOnce({
  log: relay.log,
  graceMs: config.shutdownGraceMs,
  closeSessions: () => relay.shutdown(),
  stopListening: () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    }),
  exit: (code) => Deno.exit(code),
});
// Deno supports only SIGINT (and SIGBREAK) listeners on Windows.
if (Deno.build.os !== 'windows') Deno.addSignalListener('SIGTERM', () => shutdown('SIGTERM'));
Deno.addSignalListener('SIGINT', () => shutdown('SIGINT'));
