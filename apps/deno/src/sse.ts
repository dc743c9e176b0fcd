import { SSE_HEADERS } from '@relaykit/contracts';
import { CORS_HEADERS, type Relay, type SseSession, type SseSink } from '@relaykit/core';
import { handshakeOf } from './web.ts';

const VARIANT = Deno.env.get('SSE_VARIANT') ?? 'class';
const HEADERS = { ...SSE_HEADERS, ...CORS_HEADERS };
const HWM = 0;
const byteLength = (chunk: Uint8Array) => chunk.byteLength;
const STRATEGY: QueuingStrategy<Uint8Array> = { highWaterMark: HWM, size: byteLength };

/** One object per stream: the ReadableStream's underlying source and the session's sink. */
class StreamSink implements UnderlyingDefaultSource<Uint8Array>, SseSink {
  private controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  private open = true;
  constructor(private readonly session: SseSession) {}
  start(controller: ReadableStreamDefaultController<Uint8Array>): void {
    this.controller = controller;
    void this.session.start(this);
  }
  cancel(): void {
    this.open = false;
    this.session.onClose();
  }
  write(chunk: Uint8Array): number {
    if (!this.open) return 0;
    try {
      this.controller!.enqueue(chunk);
    } catch {
      this.open = false;
      return 0;
    }
    return this.controller!.desiredSize! >= 0 ? chunk.byteLength : -1;
  }
  end(): void {
    if (!this.open) return;
    this.open = false;
    try {
      this.controller!.close();
    } catch {
      // already cancelled
    }
  }
  get bufferedAmount(): number {
    return Math.max(0, HWM - (this.controller?.desiredSize ?? HWM));
  }
}

export async function serveSse(relay: Relay, req: Request, url: URL): Promise<Response> {
  const session = await relay.openSse(handshakeOf(req, url));
  if (session instanceof Response) return session;
  let body: ReadableStream<Uint8Array>;
  switch (VARIANT) {
    case 'class':
      body = new ReadableStream(new StreamSink(session), STRATEGY);
      break;
    case 'class-signal':
      body = new ReadableStream(new StreamSink(session), STRATEGY);
      req.signal.addEventListener('abort', () => session.onClose(), { once: true });
      break;
    case 'default': {
      // The textbook shape: closures, default strategy (highWaterMark 1 chunk), signal listener.
      const enc = new TextEncoder();
      body = new ReadableStream<Uint8Array>({
        start(controller) {
          void session.start({
            write: (chunk) => {
              try {
                controller.enqueue(chunk);
              } catch {
                return 0;
              }
              return (controller.desiredSize ?? 0) > 0 ? chunk.byteLength : -1;
            },
            end: () => controller.close(),
            get bufferedAmount() {
              return 0;
            },
          });
          void enc;
        },
        cancel: () => session.onClose(),
      });
      req.signal.addEventListener('abort', () => session.onClose(), { once: true });
      break;
    }
    case 'bytes': {
      body = new ReadableStream({
        type: 'bytes',
        start(controller) {
          void session.start({
            write: (chunk) => {
              try {
                controller.enqueue(chunk.slice());
              } catch {
                return 0;
              }
              return (controller.desiredSize ?? 0) >= 0 ? chunk.byteLength : -1;
            },
            end: () => controller.close(),
            get bufferedAmount() {
              return 0;
            },
          });
        },
        cancel: () => session.onClose(),
      }, { highWaterMark: 0 });
      break;
    }
    default:
      throw new Error('unknown SSE_VARIANT');
  }
  return new Response(body, { headers: HEADERS });
}
