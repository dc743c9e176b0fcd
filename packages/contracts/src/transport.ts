import type { Envelope } from './envelope.js';

export type TransportKind = 'sse' | 'ws';
export type ConnectionTransport = TransportKind | 'poll';

/** An event encoded once for every transport; the same bytes go to every subscriber. */
export interface EncodedEvent {
  readonly envelope: Envelope;
  /** The WebSocket `event` frame as JSON text. */
  readonly ws: string;
  /** The SSE frame as UTF-8 bytes (encoded on first use). */
  readonly sse: Uint8Array;
}

/**
 * The outcome of one send, in Bun's convention so every runtime reports alike:
 * > 0 bytes accepted, -1 accepted but queued behind backpressure, 0 dropped (the connection is gone).
 */
export type SendResult = number;

/** One connection as the hub sees it. Each runtime implements it over its own socket or stream. */
export interface Subscriber {
  readonly transport: ConnectionTransport;
  /** Delivers one live or replayed event. */
  deliver(event: EncodedEvent): SendResult;
}

/**
 * Topic fan-out, the hottest path: the runtime's own fastest way to hand one event to every
 * subscriber of a topic (Bun's server.publish, a loop over `ws` sockets, a lean SSE writer).
 */
export interface Fanout<S extends Subscriber = Subscriber> {
  join(topic: string, subscriber: S): void;
  leave(topic: string, subscriber: S): void;
  /** Returns how many subscribers the event was handed to. */
  publish(topic: string, event: EncodedEvent): number;
}
