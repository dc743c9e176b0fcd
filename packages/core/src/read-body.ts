import { RelayError } from './errors.js';

const utf8 = new TextDecoder();
const FIRST_BUFFER_BYTES = 16 * 1024;

function checkDeclaredLength(request: Request, max: number): number {
  const declared = Number(request.headers.get('content-length') ?? 0);
  if (declared > max) throw new RelayError('message_too_large', `body over MAX_MESSAGE_BYTES (${max})`);
  return declared;
}

/**
 * A body the edge has read already (HttpEdge.body: node-edge reads one byte past `max`, within
 * REQUEST_TIMEOUT_MS): the same answers as readBody, with only the limit left to check.
 */
export function receivedBody(request: Request, bytes: Uint8Array, max: number): string {
  checkDeclaredLength(request, max);
  if (bytes.byteLength > max) throw new RelayError('message_too_large', `body over MAX_MESSAGE_BYTES (${max})`);
  return utf8.decode(bytes);
}

/**
 * Reads a request body of at most `max` bytes within `timeoutMs`, counting bytes as they arrive.
 * Every chunk is copied into one buffer owned here and then let go: a chunk may be a small view
 * onto a much larger buffer (Deno hands each 1-byte chunk of a dribbled body as a view of ~64 KB),
 * and keeping the views, as a generic body-limit helper does, holds those buffers whole. So memory
 * for a body is bounded by `max` however it is chunked. Written by hand for that reason.
 */
export async function readBody(request: Request, max: number, timeoutMs: number): Promise<string> {
  const declared = checkDeclaredLength(request, max);
  if (!request.body) return '';
  const reader = request.body.getReader();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    reader.cancel().catch(() => {});
  }, timeoutMs);
  let buffer = new Uint8Array(Math.min(max, declared > 0 ? declared : FIRST_BUFFER_BYTES));
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (timedOut) break;
      if (done) break;
      if (size + value.byteLength > max) {
        await reader.cancel().catch(() => {});
        throw new RelayError('message_too_large', `body over MAX_MESSAGE_BYTES (${max})`);
      }
      if (size + value.byteLength > buffer.byteLength) {
        const grown = new Uint8Array(Math.min(max, Math.max(2 * buffer.byteLength, size + value.byteLength)));
        grown.set(buffer.subarray(0, size));
        buffer = grown;
      }
      buffer.set(value, size);
      size += value.byteLength;
    }
  } catch (error) {
    if (!timedOut) throw error;
  } finally {
    clearTimeout(timer);
  }
  if (timedOut) throw new RelayError('request_timeout', `body did not arrive within REQUEST_TIMEOUT_MS (${timeoutMs})`);
  return utf8.decode(buffer.subarray(0, size));
}
