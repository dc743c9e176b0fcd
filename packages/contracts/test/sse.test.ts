import fc from 'fast-check';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { describe, expect, it } from 'vitest';
import { encodeEvent, encodeSseComment, encodeSseEvent, encodeSseId, encodeSseReset, encodeSseRetry } from '../src/index.js';

function parseAll(text: string) {
  const events: EventSourceMessage[] = [];
  const comments: string[] = [];
  let retry: number | undefined;
  const parser = createParser({
    onEvent: (event) => events.push(event),
    onComment: (comment) => comments.push(comment),
    onRetry: (ms) => (retry = ms),
  });
  parser.feed(text);
  return { events, comments, retry };
}

describe('SSE codec', () => {
  it('round-trips any data through a spec-compliant parser (line breaks become LF)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (data) => {
        const { events } = parseAll(encodeSseEvent({ id: '1', event: 'x', data }));
        expect(events).toHaveLength(1);
        expect(events[0]!.data).toBe(data.replace(/\r\n|\r/g, '\n'));
        expect(events[0]!.id).toBe('1');
        expect(events[0]!.event).toBe('x');
      }),
    );
  });

  it('refuses CR or LF in id and event, which would forge fields', () => {
    expect(() => encodeSseEvent({ id: 'a\nevent: evil', data: '' })).toThrow(/CR or LF/);
    expect(() => encodeSseEvent({ event: 'x\rdata: evil', data: '' })).toThrow(/CR or LF/);
    expect(() => encodeSseEvent({ id: 'a\0b', data: '' })).toThrow(/NUL/);
  });

  it('encodes comments and retry hints that parsers see as such', () => {
    const { comments, retry, events } = parseAll(encodeSseComment('two\nlines') + encodeSseRetry(1500));
    expect(comments.map((c) => c.trim())).toEqual(['two', 'lines']);
    expect(retry).toBe(1500);
    expect(events).toHaveLength(0);
  });

  it('encodes an envelope once: WS frame and SSE bytes carry the same JSON', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (data) => {
        const envelope = { id: 'e1-5', topic: 't', type: 'x', data, time: 1 };
        const encoded = encodeEvent(envelope);
        const ws = JSON.parse(encoded.ws);
        expect(ws).toEqual({ type: 'event', event: JSON.parse(JSON.stringify(envelope)) });
        const { events } = parseAll(new TextDecoder().decode(encoded.sse));
        expect(events).toHaveLength(1);
        expect(events[0]!.data).toBe(JSON.stringify(envelope));
        expect(encoded.sse).toBe(encoded.sse); // encoded once, then shared
      }),
    );
  });

  it('encodes a bare id that sets the last event id and dispatches nothing', () => {
    let lastId: string | undefined;
    const parser = createParser({ onEvent: () => expect.unreachable(), onId: (id) => (lastId = id) });
    parser.feed(encodeSseId('e1-7'));
    expect(lastId).toBe('e1-7');
    expect(() => encodeSseId('a\nb')).toThrow(/CR or LF/);
  });

  it('encodes the reset signal with the position as id', () => {
    const { events } = parseAll(encodeSseReset('e1-9', { code: 'history_unavailable', topics: ['a'] }));
    expect(events[0]).toMatchObject({ id: 'e1-9', event: 'reset' });
    expect(JSON.parse(events[0]!.data)).toEqual({ code: 'history_unavailable', topics: ['a'] });
  });
});
