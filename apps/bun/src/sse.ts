import { type Relay, SSE_RESPONSE_HEADERS, type SseSink } from '@relaykit/core';
import type { Server } from 'bun';
import { handshakeOf } from './web.ts';

/**
 * `GET /v1/events`: a direct ReadableStream, Bun's leanest body (measured on Bun 1.4.5 at 2k–10k
 * held streams: 5.1–5.8 KB of server RSS each, against 9.7–10.0 KB for a queued ReadableStream
 * with enqueue): `controller.write` goes straight to the response's socket
 * buffer, Bun flushes it at the end of the tick, and each event's bytes are shared by every
 * subscriber. A `pull` that returns without closing keeps the stream open until `end()`.
 */
export async function serveSse(relay: Relay, req: Request, server: Server<unknown>, url: URL): Promise<Response> {
  const session = await relay.openSse(handshakeOf(req, url));
  if (session instanceof Response) return session;
  // Bun closes a connection quiet for idleTimeout (10 s); the heartbeat's keepalives are the only traffic.
  server.timeout(req, 0);
  const body = new ReadableStream({
    type: 'direct',
    pull(controller) {
      /** Bytes accepted behind backpressure, until the socket drains. */
      let queued = 0;
      const gone = () => session.onClose();
      const sink: SseSink = {
        write(chunk) {
          if (session.closed) return 0;
          const written = controller.write(chunk);
          if (typeof written === 'number') {
            // 0 for a non-empty chunk: the client went away.
            if (written === 0 && chunk.byteLength > 0) {
              gone();
              return 0;
            }
            return chunk.byteLength;
          }
          queued += chunk.byteLength;
          written.then(() => {
            queued = 0;
          }, gone);
          return -1;
        },
        end() {
          controller.close();
        },
        get bufferedAmount() {
          return queued;
        },
      };
      void session.start(sink);
    },
    // The client disconnected.
    cancel: () => session.onClose(),
  });
  return new Response(body, { headers: SSE_RESPONSE_HEADERS });
}
