import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nestsDeeperThan, readBody } from '../src/adapter.js';
import { RelayError } from '../src/index.js';

/** Depth by the definition, on a parsed value: a scalar is 0, an empty array or object is 1. */
function depthOf(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  const children = Object.values(value as object);
  return 1 + (children.length === 0 ? 0 : Math.max(...children.map(depthOf)));
}

describe('nestsDeeperThan', () => {
  it('agrees with the depth of the parsed value for any JSON, brackets inside strings included', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 12 }), fc.integer({ min: 1, max: 14 }), (value, limit) => {
        const text = JSON.stringify(value);
        expect(nestsDeeperThan(text, limit)).toBe(depthOf(value) > limit);
      }),
      { numRuns: 2000 },
    );
  });

  it('handles the 3,000-level frame of the crash report without recursion', () => {
    const deep = `{"type":"publish","topic":"x","event":{"type":"t","data":${'['.repeat(3000)}${']'.repeat(3000)}}}`;
    expect(nestsDeeperThan(deep, 66)).toBe(true);
    expect(nestsDeeperThan('"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["', 2)).toBe(false);
    expect(nestsDeeperThan('["\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["]', 2)).toBe(false);
  });
});

const stream = (chunks: Uint8Array[], stall = false) =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      if (!stall) controller.close();
    },
  });
const request = (body: ReadableStream<Uint8Array>, headers: Record<string, string> = {}) =>
  new Request('http://x/', { method: 'POST', body, headers, duplex: 'half' } as RequestInit);

describe('readBody', () => {
  it('reads a body dribbled one byte per chunk, each chunk a view of a large buffer, and keeps no view', async () => {
    const text = '{"type":"t","data":"dribbled"}';
    const views = [...new TextEncoder().encode(text)].map((byte) => {
      const backing = new Uint8Array(64 * 1024);
      backing[100] = byte;
      return backing.subarray(100, 101);
    });
    expect(await readBody(request(stream(views)), 1000, 5000)).toBe(text);
  });

  it('refuses a body over the limit as its bytes arrive, with or without Content-Length', async () => {
    const chunks = Array.from({ length: 20 }, () => new Uint8Array(100));
    await expect(readBody(request(stream(chunks)), 1000, 5000)).rejects.toMatchObject({ code: 'message_too_large' });
    await expect(readBody(request(stream([]), { 'content-length': '1001' }), 1000, 5000)).rejects.toBeInstanceOf(RelayError);
  });

  it('answers request_timeout when the body stops arriving', async () => {
    await expect(readBody(request(stream([new Uint8Array(3)], true)), 1000, 50)).rejects.toMatchObject({ code: 'request_timeout' });
  });
});
