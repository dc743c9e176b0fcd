import { type Relay, handshakeOf } from '@relaykit/core';
import { type SseSession, type SseSink, TurnBuffered } from '@relaykit/core/adapter';
import type { Server } from 'bun';

/**
 * A direct stream's controller as the session's sink. A turn's chunks are written as one
 * `controller.write` at the end of the turn (TurnBuffered). `write` returns a number when the
 * bytes went to the socket, or a promise while they wait behind backpressure; `queued` counts those.
 */
export class BunSink extends TurnBuffered implements SseSink {
  private queued = 0;
  private readonly controller: ReadableStreamDirectController;
  private readonly session: SseSession;
  constructor(controller: ReadableStreamDirectController, session: SseSession) {
    super();
    this.controller = controller;
    this.session = session;
  }
  write(chunk: Uint8Array): number {
    if (this.session.closed) return 0;
    return this.hold(chunk) ? -1 : chunk.byteLength;
  }
  protected unsentBytes(): number {
    return this.queued;
  }
  protected writeTurn(chunks: readonly Uint8Array[], bytes: number): void {
    if (this.session.closed) return;
    const written = this.controller.write(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, bytes));
    if (typeof written === 'number') {
      // 0 for a non-empty chunk: the client went away.
      if (written === 0) this.session.onClose();
      return;
    }
    this.queued += bytes;
    written.then(
      () => {
        this.queued = 0;
      },
      () => this.session.onClose(),
    );
  }
  end(): void {
    this.endTurn();
    this.controller.close();
  }
  get bufferedAmount(): number {
    return this.queued + this.heldBytes;
  }
}

/**
 * `GET /v1/events`: a direct ReadableStream, Bun's leanest body (measured on Bun 1.4.5 at 2k–10k
 * held streams: 5.1–5.8 KB of server RSS each, against 9.7–10.0 KB for a queued ReadableStream
 * with enqueue): `controller.write` goes straight to the response's socket buffer, once per
 * stream per turn (BunSink), and an event alone in its turn is written as the bytes every
 * subscriber shares. A `pull` that returns without closing keeps the stream open until `end()`.
 */
export async function serveSse(relay: Relay, req: Request, server: Server<unknown>, url: URL): Promise<Response> {
  const session = await relay.acceptSse(handshakeOf(req, url, server.requestIP(req)?.address));
  // Bun closes a connection quiet for idleTimeout; the heartbeat's keepalives are the only traffic.
  server.timeout(req, 0);
  const body = new ReadableStream({
    type: 'direct',
    pull(controller) {
      void session.start(new BunSink(controller, session));
    },
    // The client disconnected.
    cancel: () => session.onClose(),
  });
  return new Response(body, { headers: session.responseHeaders });
}
