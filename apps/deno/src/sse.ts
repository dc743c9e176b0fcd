import { type Relay, SSE_RESPONSE_HEADERS, type SseSession, type SseSink } from '@relaykit/core';
import { type TurnCounted, backlog, countSent } from './turn.ts';
import { handshakeOf } from './web.ts';

/**
 * Counted in bytes with a high-water mark of 0: every chunk goes straight to Deno's pending read,
 * so `desiredSize` drops below 0 only when bytes really queue up in JS behind a slow client.
 */
const STRATEGY: QueuingStrategy<Uint8Array> = { highWaterMark: 0, size: (chunk) => chunk.byteLength };

/**
 * One object per stream: the ReadableStream's underlying source and the session's sink, with no
 * per-connection closures. Each event's pre-encoded bytes are enqueued as they are, shared by every
 * subscriber.
 *
 * Cost (Deno 2.9.6, RSS per idle held stream): ~57 KB for any ReadableStream response body against
 * ~17 KB for a request held open with no body. Deno.serve bridges every JS-made body stream into Rust
 * with a ReadableStreamResource whose ring holds 1024 buffer slots (32 KiB), plus a JS read pump;
 * only resource-backed streams (files, sockets, fetch bodies) skip it, and a JS-produced SSE stream
 * cannot be one. The shape of the JS stream (this class, closures, type "bytes", highWaterMark 0 or 1,
 * a request.signal listener) moved the figure by less than the run-to-run noise (~2 KB).
 */
class StreamSink implements UnderlyingDefaultSource<Uint8Array>, SseSink, TurnCounted {
  sentThisTurn = 0;
  private controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  private open = true;

  constructor(private readonly session: SseSession) {}

  start(controller: ReadableStreamDefaultController<Uint8Array>): void {
    this.controller = controller;
    void this.session.start(this);
  }

  /** Deno cancels the body stream when the client goes away. */
  cancel(): void {
    this.open = false;
    this.session.onClose();
  }

  write(chunk: Uint8Array): number {
    if (!this.open || !this.controller) return 0;
    try {
      this.controller.enqueue(chunk);
    } catch {
      this.open = false;
      return 0;
    }
    countSent(this, chunk.byteLength);
    return this.bufferedAmount > 0 ? -1 : chunk.byteLength;
  }

  end(): void {
    if (!this.open) return;
    this.open = false;
    try {
      this.controller?.close();
    } catch {
      // already cancelled by the client
    }
  }

  /** Bytes queued in JS from earlier turns: Deno's own 64 KiB body channel is full behind them. */
  get bufferedAmount(): number {
    return backlog(this, -(this.controller?.desiredSize ?? 0));
  }
}

/** `GET /v1/events`: a byte stream answered straight from Deno.serve's handler. */
export async function serveSse(relay: Relay, req: Request, url: URL): Promise<Response> {
  const session = await relay.openSse(handshakeOf(req, url));
  if (session instanceof Response) return session;
  return new Response(new ReadableStream(new StreamSink(session), STRATEGY), { headers: SSE_RESPONSE_HEADERS });
}
