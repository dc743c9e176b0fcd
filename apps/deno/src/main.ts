import { Relay, errorResponse, loadConfig } from '@relaykit/core';
import { demoAssets as demo } from '@relaykit/demo';
import { serveSse } from './sse.ts';
import { serveWs } from './ws.ts';

const config = loadConfig(Deno.env.toObject(), (code) => Deno.exit(code));
const relay = new Relay({ config, serverName: 'deno', demo });

const server = Deno.serve(
  {
    hostname: config.host,
    port: config.port,
    onListen: ({ port }) => {
      relay.startHeartbeat();
      console.log(`relaykit deno listening on http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`);
    },
    onError: (error) => {
      console.error('relaykit: request failed', error);
      return errorResponse('internal', 'internal error');
    },
  },
  (req) => {
    const url = new URL(req.url);
    if (url.pathname === '/v1/events' && req.method === 'GET') return serveSse(relay, req, url);
    if (req.method === 'GET' && req.headers.get('upgrade')?.toLowerCase() === 'websocket') {
      if (url.pathname !== '/v1/ws') return errorResponse('not_found', `no WebSocket endpoint at ${url.pathname}; use /v1/ws`);
      return serveWs(relay, req, url);
    }
    return relay.handle(req);
  },
);

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`relaykit deno: ${signal}, closing connections`);
  setTimeout(() => Deno.exit(0), config.shutdownGraceMs);
  // Relay first: from here it answers new requests 503 shutting_down, and it closes every WebSocket
  // with its own 1001 frame. server.shutdown() would close them too (1001 "Server shutting down"),
  // so it waits one turn for ours to go out; then it stops accepting and waits for in-flight requests.
  await relay.shutdown();
  await new Promise((resolve) => setTimeout(resolve, 0));
  await server.shutdown();
  Deno.exit(0);
}
// Deno supports only SIGINT (and SIGBREAK) listeners on Windows.
if (Deno.build.os !== 'windows') Deno.addSignalListener('SIGTERM', () => void shutdown('SIGTERM'));
Deno.addSignalListener('SIGINT', () => void shutdown('SIGINT'));
