import { SSE_HEADERS } from '@relaykit/contracts';
import { CORS_HEADERS, type Relay, type SseSink } from '@relaykit/core';
import type { Server } from 'bun';
import { handshakeOf } from './web.ts';

const HEADERS = { ...SSE_HEADERS, ...CORS_HEADERS };

/**
 * `GET /v1/events`: a direct ReadableStream, Bun's leanest body: `controller.write` goes straight
 * to the response's socket buffer with no queue of chunks, and each event's bytes are shared by
 * every subscriber.
 */
export async function serveSse(relay: Relay, req: Request, server: Server<unknown>, url: URL): Promise<Response> {
  const session = await relay.openSse(handshakeOf(req, url));
  if (session instanceof Response) return session;
  // Bun closes a connection quiet for idleTimeout (10 s); the heartbeat's keepalives are the only traffic.
  server.timeout(req, 0);
  let finish: (() => void) | undefined;
  const ended = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const close = () => {
    session.onClose();
    finish?.();
  };
  const body = new ReadableStream({
    type: 'direct',
    pull(controller) {
      let queued = 0;
      let gone = false;
      const sink: SseSink = {
        write(chunk) {
          if (gone) return 0;
          const written = controller.write(chunk);
          if (typeof written === 'number') {
            if (written === 0 && chunk.byteLength > 0) {
              gone = true;
              close();
              return 0;
            }
            return chunk.byteLength;
          }
          // Accepted behind backpressure: count it until the socket drains.
          queued += chunk.byteLength;
          written.then(
            () => {
              queued = 0;
            },
            () => close(),
          );
          return -1;
        },
        end() {
          gone = true;
          controller.end();
          finish?.();
        },
        get bufferedAmount() {
          return queued;
        },
      };
      void session.start(sink);
      return ended;
    },
    cancel: close,
  });
  return new Response(body, { headers: HEADERS });
}
