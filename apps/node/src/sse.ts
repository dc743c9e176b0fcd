import type { IncomingMessage, ServerResponse } from 'node:http';
import { SSE_HEADERS } from '@relaykit/contracts';
import { CORS_HEADERS, type Relay } from '@relaykit/core';
import { handshakeOf, sendWebResponse } from './web.ts';

/**
 * `GET /v1/events`: a plain node:http response used as the stream. Writes made in one tick are
 * merged into one writev by Node, and each event's bytes are shared by every subscriber.
 */
export async function serveSse(relay: Relay, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const session = await relay.openSse(handshakeOf(req, url));
  if (session instanceof Response) return sendWebResponse(res, session);
  req.socket.setNoDelay(true);
  res.writeHead(200, { ...SSE_HEADERS, ...CORS_HEADERS });
  res.on('close', () => session.onClose());
  void session.start({
    write: (chunk) => (res.write(chunk) ? chunk.byteLength : res.destroyed ? 0 : -1),
    end: () => res.end(),
    get bufferedAmount() {
      return res.writableLength;
    },
  });
}
