import type { Envelope } from './envelope.js';
import type { ResetSignal } from './http.js';
import { encodeSseEvent } from './sse.js';
import type { EncodedEvent } from './transport.js';

const utf8 = new TextEncoder();

/**
 * Encodes an envelope once for every transport. The envelope is stringified a single time; the
 * WebSocket frame wraps that JSON and the SSE bytes are made only if some SSE subscriber asks.
 * `json` is the envelope's JSON when the caller already has it (a broker that stored it).
 */
export function encodeEvent(envelope: Envelope, json: string = JSON.stringify(envelope)): EncodedEvent {
  let sse: Uint8Array | undefined;
  return {
    envelope,
    ws: `{"type":"event","event":${json}}`,
    get sse() {
      // JSON.stringify never emits a raw line break, so the envelope is always one `data:` line.
      sse ??= utf8.encode(encodeSseEvent({ id: envelope.id, event: envelope.type, data: json }));
      return sse;
    },
  };
}

/** The SSE cannot-resume signal; its id is the broker position so the browser drops the stale id. */
export function encodeSseReset(position: string, reset: ResetSignal): string {
  return encodeSseEvent({ id: position, event: 'reset', data: JSON.stringify(reset) });
}
