import { createServer } from 'node:http';
import { Relay, errorResponse, loadConfig } from '@relaykit/core';
import { demoAssets as demo } from '@relaykit/demo';
import { serveSse } from './sse.ts';
import { sendWebResponse, toWebRequest } from './web.ts';
import { createWsUpgrade, rejectUpgrade } from './ws.ts';

const config = loadConfig(process.env, (code) => process.exit(code));
const relay = new Relay({ config, serverName: 'node', demo });
const upgrade = createWsUpgrade(relay);

// Heads and bodies must arrive within REQUEST_TIMEOUT_MS; Node checks at the interval, so it is a fraction of it.
const timeouts = {
  headersTimeout: config.requestTimeoutMs,
  requestTimeout: config.requestTimeoutMs,
  connectionsCheckingInterval: Math.min(1000, config.requestTimeoutMs / 2),
};
const server = createServer(timeouts, (req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname === '/v1/events' && req.method === 'GET') {
    serveSse(relay, req, res, url).catch((error) => fail(res, error));
    return;
  }
  relay
    .handle(toWebRequest(req, res, url))
    .then((response) => sendWebResponse(res, response))
    .catch((error) => fail(res, error));
});

server.on('upgrade', (req, socket, head) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname !== '/v1/ws') {
    void rejectUpgrade(socket, errorResponse('not_found', `no WebSocket endpoint at ${url.pathname}; use /v1/ws`));
    return;
  }
  upgrade(req, socket, head, url).catch(() => socket.destroy());
});

function fail(res: import('node:http').ServerResponse, error: unknown): void {
  console.error('relaykit: request failed', error);
  if (!res.headersSent) void sendWebResponse(res, errorResponse('internal', 'internal error'));
  else res.destroy();
}

server.listen(config.port, config.host, () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  relay.startHeartbeat();
  console.log(`relaykit node listening on http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`);
});

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`relaykit node: ${signal}, closing connections`);
  server.close(() => process.exit(0));
  await relay.shutdown();
  server.closeIdleConnections();
  setTimeout(() => {
    server.closeAllConnections();
    process.exit(0);
  }, config.shutdownGraceMs).unref();
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
