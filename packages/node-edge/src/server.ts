import { type IncomingMessage, type ServerResponse, type Server, createServer } from 'node:http';
import { type Http2SecureServer, type Http2ServerRequest, type Http2ServerResponse, createSecureServer } from 'node:http2';
import { createServer as createTcpServer } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { type Relay, RelayError, type TlsFiles, shutdownOnce } from '@relaykit/core';
import { requestUrl } from './request-url.js';
import { sendResponse, serveSse } from './sse.js';
import { isWebSocketUpgrade, serveWs } from './ws.js';

/** The server of a relay: node:http, or node:http2 over TLS (HTTP/2 and HTTP/1.1 on one port). */
export type RelayServer = Server | Http2SecureServer;
/** A request of either: HTTP/1.1 (node:http), or HTTP/2 through node:http2's compatibility API. */
export type EdgeRequest = IncomingMessage | Http2ServerRequest;
export type EdgeResponse = ServerResponse | Http2ServerResponse;
/** A request whose body collectBody read, which @hono/node-server takes as the body as it is. */
type BodiedMessage = EdgeRequest & { rawBody?: Buffer };

/**
 * The server of a relay: SSE streams on plain responses, WebSocket upgrades through ws, every
 * other request through @hono/node-server to the relay's Hono app. The same on Node and on Deno's
 * node:http, which is the Deno app's path (apps/deno/README.md says why). With `tls` it is
 * node:http2's secure server with HTTP/1.1 allowed: ALPN picks h2 for browsers and HTTP/2
 * clients, and WebSocket (wss://) upgrades arrive over HTTP/1.1 on the same 'upgrade' event.
 */
export function createRelayServer(relay: Relay, tls?: TlsFiles): RelayServer {
  const { config } = relay;
  // What the edge knows goes with each request: the socket's address (per-IP limits count by it),
  // and the body collectBody read, so that the app does not read it again through a Web stream.
  const serveHttp = getRequestListener((request, { incoming }) =>
    relay.fetch(request, { peer: incoming.socket.remoteAddress, body: (incoming as BodiedMessage).rawBody }),
  );
  const timeouts = {
    // Heads and bodies must arrive within REQUEST_TIMEOUT_MS; the check runs at the interval, so it is a fraction of it.
    headersTimeout: config.requestTimeoutMs,
    requestTimeout: config.requestTimeoutMs,
    connectionsCheckingInterval: Math.min(1000, config.requestTimeoutMs / 2),
    // Only WebSocket upgrades leave the request listener; any other Upgrade (h2c) is served as usual.
    shouldUpgradeCallback: isWebSocketUpgrade,
  };
  const onRequest = (req: EdgeRequest, res: EdgeResponse) => {
    // Only a GET can be a stream (routeOf): a publish goes to the app without a URL parsed here.
    if (req.method === 'GET') {
      const url = requestUrl(req);
      if (relay.route('GET', url.pathname, null) === 'sse') return void serveSse(relay, req, res, url);
    }
    // Counted from its head until its response is done: a shutdown's drain waits for it (Relay.drain).
    res.once('close', relay.trackRequest());
    if (req.method === 'GET' || req.method === 'HEAD') void serveHttp(req, res);
    else
      void collectBody(req, config.maxMessageBytes, config.requestTimeoutMs).then((complete) =>
        complete ? serveHttp(req, res) : sendResponse(res, relay.refusal(new RelayError('request_timeout', `body did not arrive within REQUEST_TIMEOUT_MS (${config.requestTimeoutMs})`))),
      );
  };
  let server: RelayServer;
  if (tls) {
    server = createSecureServer({ allowHTTP1: true, cert: Buffer.from(tls.cert), key: Buffer.from(tls.key) }, onRequest);
    // node:http2 gives its HTTP/1.1 connections node:http's deadlines with fixed values (60 s head,
    // 5 min request) and takes them from these fields when it starts listening.
    Object.assign(server, timeouts);
  } else {
    server = createServer(timeouts, onRequest);
  }
  server.on('upgrade', (req: IncomingMessage, socket, head) => void serveWs(relay, req, socket, head));
  return server;
}

/**
 * Reads a request body into one buffer of its own, chunk by chunk as it arrives, stopping one
 * byte past `max`, and hands it to @hono/node-server as `rawBody` (which it takes as the body as
 * is). Converting the stream instead (Readable.toWeb) queues every chunk as a view onto the
 * socket's read buffer: a body dribbled one byte per chunk then held ~60 MB per 600 KB on Deno's
 * node:http. Core's reader still checks the limit and answers 413. The deadline of an HTTP/1.1
 * body is node:http's requestTimeout; HTTP/2 streams have none, so one runs here (resolves false
 * when the body is late).
 */
function collectBody(req: EdgeRequest, max: number, timeoutMs: number): Promise<boolean> {
  const declared = Number(req.headers['content-length'] ?? 0);
  let body = Buffer.allocUnsafe(Math.min(max + 1, declared > 0 ? declared : 16 * 1024));
  let size = 0;
  return new Promise((resolve) => {
    const deadline = 'stream' in req ? setTimeout(() => finish(false), timeoutMs) : undefined;
    const finish = (complete: boolean) => {
      clearTimeout(deadline);
      req.off('data', onData);
      req.off('end', done);
      req.off('close', done);
      (req as BodiedMessage).rawBody = body.subarray(0, size);
      resolve(complete);
    };
    const done = () => finish(true);
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
export function stopListening(server: RelayServer): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    if ('closeIdleConnections' in server) server.closeIdleConnections();
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
export function listenRelay(relay: Relay, server: RelayServer, exit: (code: number) => void): (signal: string) => void {
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
