import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Socket } from 'node:net';
import { CONNECTION_ID_HEADER, type Relay, SSE_RESPONSE_HEADERS, handshakeOfHeaders } from '@relaykit/core';
import { type SseSink, TurnBuffered } from '@relaykit/core/adapter';

/** Flat [name, value, ...] list, built once: node:http then copies no header object per stream. */
const HEADERS = Object.entries(SSE_RESPONSE_HEADERS).flat();

/**
 * `chunks` as one chunk of chunked encoding: the size in hex, CRLF, the bytes, CRLF, in one new
 * array (filled by hand: Buffer.concat and Buffer.from(string) are JavaScript polyfills on Deno).
 */
function chunkOf(chunks: readonly Uint8Array[], bytes: number): Uint8Array {
  const hex = bytes.toString(16);
  const out = Buffer.allocUnsafe(hex.length + bytes + 4);
  for (let i = 0; i < hex.length; i++) out[i] = hex.charCodeAt(i);
  out[hex.length] = 13;
  out[hex.length + 1] = 10;
  let at = hex.length + 2;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  out[at] = 13;
  out[at + 1] = 10;
  return out;
}

/**
 * One event alone in its turn, framed. A fan-out writes the same bytes to every stream of the
 * topic one after another (keepalives too), so the last one framed is kept.
 */
let lastChunk: Uint8Array | undefined;
let lastFramed: Uint8Array | undefined;
function framedOnce(chunk: Uint8Array): Uint8Array {
  if (chunk !== lastChunk || !lastFramed) {
    lastFramed = chunkOf([chunk], chunk.byteLength);
    lastChunk = chunk;
  }
  return lastFramed;
}

/**
 * A node:http response, or an HTTP/2 stream's compatibility response, as the session's sink: one
 * object per stream, no closures per connection. An HTTP/2 response is measured on its stream
 * (the compatibility object has no writableLength, and `destroyed` is the stream's).
 *
 * An HTTP/1.1 stream bypasses ServerResponse.write after its head: a turn's chunks are held here
 * and leave as one chunked-encoding chunk in one socket write at the end of the turn. Through
 * ServerResponse each event cost a chunk record, and on uncork a socket write per event plus the
 * framing's (Node 24's OutgoingMessage.uncork); here it is an array push per event. `end()` still
 * goes through the response, which writes the last chunk and lets the connection be reused.
 */
export class NodeSink extends TurnBuffered implements SseSink {
  private readonly res: { write(chunk: Uint8Array): boolean; end(): void };
  private readonly writable: { readonly writableLength: number; readonly destroyed: boolean };
  private readonly http1: ServerResponse | undefined;
  private readonly socket: Socket | undefined;
  private headSent = false;
  constructor(res: ServerResponse | Http2ServerResponse) {
    super();
    this.res = res;
    this.http1 = 'stream' in res ? undefined : res;
    this.socket = 'stream' in res ? undefined : (res.socket as Socket);
    this.writable = 'stream' in res ? res.stream : this.socket!;
  }
  write(chunk: Uint8Array): number {
    if (!this.http1) return this.res.write(chunk) ? chunk.byteLength : this.writable.destroyed ? 0 : -1;
    if (this.writable.destroyed) return 0;
    return this.hold(chunk) ? -1 : chunk.byteLength;
  }
  protected unsentBytes(): number {
    return this.writable.writableLength;
  }
  /**
   * Writes the turn's chunks as one socket write; the first time, the head goes with them: the
   * session writes nothing before its join, so an EventSource's `open` means what the opening
   * comment means (events published from then on reach the stream).
   */
  protected writeTurn(chunks: readonly Uint8Array[], bytes: number): void {
    const { http1: res, socket } = this;
    if (!res || !socket || socket.destroyed) return;
    const first = !this.headSent;
    if (first) {
      this.headSent = true;
      socket.cork();
      res.flushHeaders();
    }
    // An HTTP/1.0 client gets the bytes as they are (its response ends with the connection).
    const chunked = res.chunkedEncoding;
    if (chunks.length === 1) socket.write(chunked ? framedOnce(chunks[0]!) : chunks[0]!);
    else socket.write(chunked ? chunkOf(chunks, bytes) : Buffer.concat(chunks, bytes));
    if (first) socket.uncork();
  }
  /** Flushes first: a stream ended on shutdown or as a slow consumer may be destroyed right after. */
  end(): void {
    this.endTurn();
    this.res.end();
  }
  get bufferedAmount(): number {
    return this.writable.writableLength + this.heldBytes;
  }
}

/**
 * node:http builds the response head by appending each header to a string and keeps it in
 * `_header` for the stream's life (it is what `headersSent` reads): about 30 rope nodes, ~1 KB per
 * stream that V8 never flattens, since the socket write walks the rope. One flat copy of the same
 * bytes is a quarter of that; the rope becomes garbage at once.
 */
function flattenHead(res: ServerResponse): void {
  const head = res as unknown as { _header: string | null };
  if (typeof head._header === 'string') head._header = Buffer.from(head._header, 'latin1').toString('latin1');
}

/** Answers a refused stream or upgrade with the relay's JSON error, outside the Hono app. */
export async function sendResponse(res: ServerResponse | Http2ServerResponse, response: Response): Promise<void> {
  const body = Buffer.from(await response.arrayBuffer());
  const headers = { ...Object.fromEntries(response.headers), 'content-length': body.byteLength };
  if ('stream' in res) res.writeHead(response.status, headers).end(body);
  else res.writeHead(response.status, headers).end(body);
}

/**
 * `GET /v1/events`: a plain node:http response used as the stream. Each event's bytes are shared
 * by every subscriber, and one turn's writes to a stream leave in one writev (NodeSink).
 */
export async function serveSse(relay: Relay, req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse, url: URL): Promise<void> {
  let session;
  try {
    session = await relay.acceptSse(handshakeOfHeaders(url, req.headers, req.socket.remoteAddress));
  } catch (error) {
    return sendResponse(res, relay.refusal(error));
  }
  // The client may have left while it was being admitted: 'close' has been emitted already then.
  // Over HTTP/2 that is the stream, not the connection it shares, whose options are the session's.
  if ('stream' in req ? req.stream.destroyed : req.socket.destroyed) return session.onClose();
  if (!('stream' in req)) req.socket.setNoDelay(true);
  // The public server's HTTP/1.1 headers are one shared flat list; an ALLOWED_ORIGINS grant is per
  // stream, and node:http2's compatibility writeHead takes a header object.
  if ('stream' in res) res.writeHead(200, { ...session.responseHeaders });
  else {
    res.writeHead(200, session.baseHeaders === SSE_RESPONSE_HEADERS ? [...HEADERS, CONNECTION_ID_HEADER, session.id] : { ...session.responseHeaders });
    flattenHead(res);
  }
  res.on('close', () => session.onClose());
  void session.start(new NodeSink(res));
}
