import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Relay, SSE_RESPONSE_HEADERS, handshakeOfHeaders } from '@relaykit/core';
import type { SseSink } from '@relaykit/core/adapter';

/** Flat [name, value, ...] list, built once: node:http then copies no header object per stream. */
const HEADERS = Object.entries(SSE_RESPONSE_HEADERS).flat();

/** A node:http response as the session's sink: one object per stream, no closures per connection. */
export class NodeSink implements SseSink {
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

/** Answers a refused stream or upgrade with the relay's JSON error, outside the Hono app. */
export async function sendResponse(res: ServerResponse, response: Response): Promise<void> {
  const body = Buffer.from(await response.arrayBuffer());
  res.writeHead(response.status, { ...Object.fromEntries(response.headers), 'content-length': body.byteLength });
  res.end(body);
}

/**
 * `GET /v1/events`: a plain node:http response used as the stream. Writes made in one tick are
 * merged into one writev by Node, and each event's bytes are shared by every subscriber.
 */
export async function serveSse(relay: Relay, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  let session;
  try {
    session = await relay.acceptSse(handshakeOfHeaders(url, req.headers, req.socket.remoteAddress));
  } catch (error) {
    return sendResponse(res, relay.refusal(error));
  }
  // The client may have left while it was being admitted: 'close' has been emitted already then.
  if (req.socket.destroyed) return session.onClose();
  req.socket.setNoDelay(true);
  // The public server's headers are one shared list; an ALLOWED_ORIGINS grant is per stream.
  res.writeHead(200, session.responseHeaders === SSE_RESPONSE_HEADERS ? HEADERS : { ...session.responseHeaders });
  res.on('close', () => session.onClose());
  void session.start(new NodeSink(res));
}
