import type { Envelope } from './envelope.js';
import type { ResetSignal } from './http.js';
import { encodeSseEvent } from './sse.js';
import type { EncodedEvent } from './transport.js';

const utf8 = new TextEncoder();

const FRAME_PREFIX = '{"type":"event","event":';

/** The WebSocket `event` frame of an envelope, as one flat string (what a broker stores). */
export function eventFrame(envelope: Envelope): string {
  return JSON.stringify({ type: 'event', event: envelope });
}

/**
 * Encodes an envelope once for every transport: the WebSocket frame is stringified a single time
 * (or comes from the broker, which stored it), and the SSE bytes are made only if some SSE
 * subscriber asks. The frame is one flat string shared by every subscriber and every replay, and
 * the envelope's JSON is a slice of it, not a copy: a frame built by concatenation would be
 * flattened into a new string by each connection that sends it.
 */
export function encodeEvent(envelope: Envelope, frame: string = eventFrame(envelope)): EncodedEvent {
  let sse: Uint8Array | undefined;
  return {
    envelope,
    ws: frame,
    get sse() {
      // JSON.stringify never emits a raw line break, so the envelope is always one `data:` line.
      sse ??= utf8.encode(encodeSseEvent({ id: envelope.id, event: envelope.type, data: frame.slice(FRAME_PREFIX.length, -1) }));
      return sse;
    },
  };
}

/** The SSE cannot-resume signal; its id is the broker position so the browser drops the stale id. */
export function encodeSseReset(position: string, reset: ResetSignal): string {
  return encodeSseEvent({ id: position, event: 'reset', data: JSON.stringify(reset) });
}
