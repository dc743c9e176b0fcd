import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Relay, WORKER_ENV, jsonLogger, loadConfig, loadTls, type TlsAccess, shutdownOnce, superviseWorkers } from '@relaykit/core';
import { demoAssets as demo } from '@relaykit/demo';
import { BunFanout } from './fanout.ts';
import { serveSse } from './sse.ts';
import { type WsData, serveWs, wsHandler } from './ws.ts';

const config = loadConfig(Bun.env, (code) => process.exit(code), 'bun');
// Read before any worker starts, so that a missing or unreadable file stops the server at once.
const tls = loadTls(config, tlsAccess(), (code) => process.exit(code));
if (config.workers > 1 && !Bun.env[WORKER_ENV]) supervise();
else await serve();

/** WORKERS > 1: this process only starts and watches the workers (core's superviseWorkers). */
function supervise(): void {
  // A port the kernel says is free, for workers that must all listen on the same one.
  const probe = config.port === 0 ? Bun.listen({ hostname: config.host, port: 0, socket: { data() {} } }) : undefined;
  const port = probe?.port ?? config.port;
  probe?.stop(true);
  const stop = superviseWorkers({
    count: config.workers,
    port,
    log: jsonLogger(config.logLevel, 'bun'),
    graceMs: config.shutdownGraceMs,
    spawn(env) {
      const child = Bun.spawn({ cmd: [process.execPath, ...process.argv.slice(1)], env: { ...Bun.env, ...env }, stdio: ['inherit', 'inherit', 'inherit'] });
      return { exited: child.exited, kill: (signal) => child.kill(signal) };
    },
    exit: (code) => process.exit(code),
  });
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** One server process: the relay, Bun.serve, and shutdown on a signal. */
async function serve(): Promise<void> {
  const fanout = new BunFanout(config.maxBufferedBytes);
  const relay = new Relay({ config, serverName: 'bun', demo, fanout });
  /** Long polls wait up to POLL_MAX_WAIT_S (60 s) without a byte: more than Bun's 10 s idleTimeout. */
  const POLL_IDLE_TIMEOUT_S = 75;

  const server = Bun.serve<WsData>({
    hostname: config.host,
    port: config.port,
    // Workers share the port: SO_REUSEPORT lets the kernel spread connections over them.
    reusePort: config.workers > 1,
    // HTTPS: ALPN gives h2 to clients that offer it (experimental in Bun 1.4.5, and still
    // Bun.serve, so the native pub/sub fan-out stays), HTTP/1.1 to the rest and to WebSockets.
    tls: tls && { cert: tls.cert, key: tls.key },
    http2: Boolean(tls),
    // REQUEST_TIMEOUT_MS is not Bun's to set for heads: uWS closes a connection whose head has not
    // arrived after about 10 s (12 s measured on Bun 1.4.5, dribbled or stalled). Bodies time out in core.
    async fetch(req, server) {
      const url = new URL(req.url);
      let done: (() => void) | undefined;
      try {
        const route = relay.route(req.method, url.pathname, req.headers.get('upgrade'));
        if (route === 'ws') return await serveWs(relay, req, server, url);
        if (route === 'sse') return await serveSse(relay, req, server, url);
        // Counted until it is answered (streams and sockets are sessions): a shutdown's drain waits for it.
        done = relay.trackRequest();
        if (req.method === 'GET' || req.method === 'HEAD') server.timeout(req, POLL_IDLE_TIMEOUT_S);
        return await relay.fetch(req, { peer: server.requestIP(req)?.address });
      } catch (error) {
        return relay.refusal(error);
      } finally {
        done?.();
      }
    },
    websocket: wsHandler(relay),
  });
  fanout.attach(server);
  await relay.start();
  relay.announce(server.port ?? config.port);

  const shutdown = shutdownOnce({
    log: relay.log,
    graceMs: config.shutdownGraceMs,
    // Bun.serve listens on through the drain; server.stop comes only after it, and gracefully: the
    // last answers (returned from fetch, which is where the drain stops counting) are still being written.
    drain: () => relay.drain(),
    close: async () => {
      await server.stop();
      await relay.close();
    },
    exit: (code) => process.exit(code),
  });
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

/** node:fs and node:crypto, the same on Node, Bun and Deno, for core's loadTls. */
function tlsAccess(): TlsAccess {
  return {
    read: (path: string) => readFileSync(path),
    keyMatchesCert: (cert: Uint8Array, key: Uint8Array) => new X509Certificate(cert).checkPrivateKey(createPrivateKey(Buffer.from(key))),
  };
}
