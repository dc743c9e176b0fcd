import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { type Relay, shutdownOnce } from '@relaykit/core';
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
      if (relay.route(req.method ?? 'GET', url.pathname, null) === 'sse') return void serveSse(relay, req, res, url);
      // Counted from its head until its response is done: a shutdown's drain waits for it (Relay.drain).
      res.once('close', relay.trackRequest());
      if (req.method === 'GET' || req.method === 'HEAD') void serveHttp(req, res);
      else void collectBody(req, config.maxMessageBytes).then(() => serveHttp(req, res));
    },
  );
  server.on('upgrade', (req, socket, head) => void serveWs(relay, req, socket, head));
  return server;
}

/**
 * Reads a request body into one buffer of its own, chunk by chunk as it arrives, stopping one
 * byte past `max`, and hands it to @hono/node-server as `rawBody` (which it takes as the body as
 * is). Converting the stream instead (Readable.toWeb) queues every chunk as a view onto the
 * socket's read buffer: a body dribbled one byte per chunk then held ~60 MB per 600 KB on Deno's
 * node:http. Core's reader still checks the limit and answers 413; the deadline is node:http's
 * requestTimeout (REQUEST_TIMEOUT_MS).
 */
function collectBody(req: IncomingMessage, max: number): Promise<void> {
  const declared = Number(req.headers['content-length'] ?? 0);
  let body = Buffer.allocUnsafe(Math.min(max + 1, declared > 0 ? declared : 16 * 1024));
  let size = 0;
  return new Promise((resolve) => {
    const done = () => {
      req.off('data', onData);
      (req as IncomingMessage & { rawBody?: Buffer }).rawBody = body.subarray(0, size);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      const take = Math.min(chunk.byteLength, max + 1 - size);
      if (size + take > body.byteLength) {
        const grown = Buffer.allocUnsafe(Math.min(max + 1, Math.max(2 * body.byteLength, size + take)));
        body.copy(grown, 0, 0, size);
        body = grown;
      }
      chunk.copy(body, size, 0, take);
      size += take;
      // Over the limit: enough to answer 413; the rest is never buffered.
      if (size > max) done();
    };
    req.on('data', onData);
    req.once('end', done);
    req.once('close', done);
  });
}

/** Stops accepting and resolves once open requests are done; idle keep-alive sockets go at once. */
export function stopListening(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}

/** A port the kernel says is free, for workers (WORKERS > 1) that must all listen on the same one. */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createTcpServer().once('error', reject);
    probe.listen(0, host, () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * Listens on the relay's HOST and PORT (SO_REUSEPORT when there are workers), starts the relay
 * and prints the listening line; returns the shutdown handler the app registers for its signals
 * with its runtime's `exit`.
 */
export function listenRelay(relay: Relay, server: Server, exit: (code: number) => void): (signal: string) => void {
  const { config } = relay;
  // Workers share the port: SO_REUSEPORT lets the kernel spread connections over them.
  server.listen({ port: config.port, host: config.host, reusePort: config.workers > 1 }, async () => {
    const address = server.address();
    await relay.start();
    relay.announce(typeof address === 'object' && address ? address.port : config.port);
  });
  return shutdownOnce({
    log: relay.log,
    graceMs: config.shutdownGraceMs,
    drain: () => relay.drain(),
    close: async () => {
      await stopListening(server);
      await relay.close();
    },
    exit,
  });
}
