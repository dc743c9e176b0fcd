import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Relay, SSE_RESPONSE_HEADERS, type SseSink } from '@relaykit/core';
import { handshakeOf, sendWebResponse } from './web.ts';

/** Flat [name, value, ...] list, built once: node:http then copies no header object per stream. */
const HEADERS = Object.entries(SSE_RESPONSE_HEADERS).flat();

/** One object per stream as the session's sink: no closures to allocate per connection. */
class ResponseSink implements SseSink {
  private readonly res: ServerResponse;
  constructor(res: ServerResponse) {
    this.res = res;
  }
  write(chunk: Uint8Array): number {
    return this.res.write(chunk) ? chunk.byteLength : this.res.destroyed ? 0 : -1;
  }
  end(): void {
    this.res.end();
  }
  get bufferedAmount(): number {
    return this.res.writableLength;
  }
}

/**
 * `GET /v1/events`: a plain node:http response used as the stream. Writes made in one tick are
 * merged into one writev by Node, and each event's bytes are shared by every subscriber.
 */
export async function serveSse(relay: Relay, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const session = await relay.openSse(handshakeOf(req, url));
  if (session instanceof Response) return sendWebResponse(res, session);
  req.socket.setNoDelay(true);
  res.writeHead(200, HEADERS);
  res.on('close', () => session.onClose());
  void session.start(new ResponseSink(res));
}
