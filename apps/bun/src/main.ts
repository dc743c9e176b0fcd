import { Relay, errorResponse, loadConfig } from '@relaykit/core';
import { demoAssets as demo } from '@relaykit/demo';
import { BunFanout } from './fanout.ts';
import { serveSse } from './sse.ts';
import { type WsData, upgradeWs, wsHandler } from './ws.ts';

const config = loadConfig(Bun.env, (code) => process.exit(code));
const fanout = new BunFanout(config.maxBufferedBytes);
const relay = new Relay({ config, serverName: 'bun', demo, fanout });
/** Long polls wait up to POLL_MAX_WAIT_S (60 s) without a byte: more than Bun's 10 s idleTimeout. */
const POLL_IDLE_TIMEOUT_S = 75;

const server = Bun.serve<WsData>({
  hostname: config.host,
  port: config.port,
  async fetch(req, server) {
    const url = new URL(req.url);
    try {
      if (req.headers.get('upgrade')?.toLowerCase() === 'websocket') {
        if (url.pathname !== '/v1/ws') return errorResponse('not_found', `no WebSocket endpoint at ${url.pathname}; use /v1/ws`);
        return await upgradeWs(relay, req, server, url);
      }
      if (url.pathname === '/v1/events' && req.method === 'GET') return await serveSse(relay, req, server, url);
      if (url.pathname.startsWith('/v1/topics/') && (req.method === 'GET' || req.method === 'HEAD')) {
        server.timeout(req, POLL_IDLE_TIMEOUT_S);
      }
      return await relay.handle(req);
    } catch (error) {
      console.error('relaykit: request failed', error);
      return errorResponse('internal', 'internal error');
    }
  },
  websocket: wsHandler(relay),
});
fanout.attach(server);
relay.startHeartbeat();
const host = config.host.includes(':') ? `[${config.host}]` : config.host;
console.log(`relaykit bun listening on http://${host}:${server.port}`);

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`relaykit bun: ${signal}, closing connections`);
  // Stop accepting; the promise settles once in-flight requests and streams are done.
  void server.stop().then(() => process.exit(0));
  await relay.shutdown();
  setTimeout(() => {
    void server.stop(true);
    process.exit(0);
  }, config.shutdownGraceMs).unref();
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
