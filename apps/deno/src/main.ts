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
    if (req.headers.get('upgrade')?.toLowerCase() === 'websocket') {
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
  // Relay first: it refuses new connections and closes WebSockets with its own 1001 reason before
  // server.shutdown() (which stops accepting, then waits for in-flight requests) closes them with Deno's.
  const relayDone = relay.shutdown();
  const serverDone = server.shutdown();
  await relayDone;
  await serverDone;
  Deno.exit(0);
}
Deno.addSignalListener('SIGTERM', () => void shutdown('SIGTERM'));
Deno.addSignalListener('SIGINT', () => void shutdown('SIGINT'));
