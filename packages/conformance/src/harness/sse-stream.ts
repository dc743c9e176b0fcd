import { Envelope, PresenceChange, ResetSignal, SSE_OPEN_COMMENT } from '@relaykit/contracts';
import { type EventSourceMessage, createParser } from 'eventsource-parser';
import { expect } from 'vitest';
import { Collector } from './collector.ts';
import { validated } from './http.ts';
import { baseUrl } from './target.ts';

export type SseItem =
  | { kind: 'event'; id: string | undefined; event: string | undefined; data: string }
  | { kind: 'comment'; text: string }
  | { kind: 'retry'; ms: number };

/** One SSE response read with fetch, its bytes kept and parsed with eventsource-parser. */
export class SseStream {
  readonly items = new Collector<SseItem>();
  raw = '';
  ended = false;
  readonly done: Promise<void>;

  private constructor(
    readonly response: Response,
    private readonly abort: AbortController,
  ) {
    const parser = createParser({
      onEvent: (m: EventSourceMessage) => this.items.push({ kind: 'event', id: m.id, event: m.event, data: m.data }),
      onComment: (text) => this.items.push({ kind: 'comment', text }),
      onRetry: (ms) => this.items.push({ kind: 'retry', ms }),
    });
    this.done = (async () => {
      const decoder = new TextDecoder();
      try {
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          const text = decoder.decode(chunk, { stream: true });
          this.raw += text;
          parser.feed(text);
        }
      } catch {
        /* aborted */
      } finally {
        this.ended = true;
        this.items.notify();
      }
    })();
  }

  static async open(topics: string[], options: { lastEventId?: string; query?: Record<string, string>; base?: string } = {}): Promise<SseStream> {
    const url = new URL(`${options.base ?? baseUrl()}/v1/events`);
    for (const t of topics) url.searchParams.append('topic', t);
    for (const [k, v] of Object.entries(options.query ?? {})) url.searchParams.set(k, v);
    const abort = new AbortController();
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (options.lastEventId !== undefined) headers['last-event-id'] = options.lastEventId;
    const response = await fetch(url, { headers, signal: abort.signal });
    if (response.status !== 200) {
      const body = await response.text();
      throw new Error(`SSE ${url} answered ${response.status}: ${body}`);
    }
    const stream = new SseStream(response, abort);
    // The opening comment proves the stream is flowing and joined: events published from now on reach it.
    await stream.items.find((i) => i.kind === 'comment' && i.text.trim() === SSE_OPEN_COMMENT, 'the opening comment');
    return stream;
  }

  /** Envelopes of the events (not reset, not presence), each validated against Envelope. */
  envelopes(topic?: string): Envelope[] {
    return this.items.items
      .filter((i): i is Extract<SseItem, { kind: 'event' }> => i.kind === 'event' && i.event !== 'reset' && i.event !== 'presence')
      .map((i) => validated(Envelope, JSON.parse(i.data)))
      .filter((e) => topic === undefined || e.topic === topic);
  }

  /** The `event: presence` joins and leaves, each validated against PresenceChange. */
  presence(): PresenceChange[] {
    return this.events()
      .filter((i) => i.event === 'presence')
      .map((i) => validated(PresenceChange, JSON.parse(i.data)));
  }

  events(): Extract<SseItem, { kind: 'event' }>[] {
    return this.items.items.filter((i): i is Extract<SseItem, { kind: 'event' }> => i.kind === 'event');
  }

  async waitEnvelopes(count: number, topic?: string): Promise<Envelope[]> {
    await this.items.until(() => this.envelopes(topic).length >= count, `${count} SSE event(s)${topic ? ` on ${topic}` : ''}`);
    return this.envelopes(topic);
  }

  /** Every `event:` frame: id, event name and data agree with the envelope it carries. */
  expectWellFormed(): void {
    for (const item of this.events()) {
      if (item.event === 'reset') {
        ResetSignal.parse(JSON.parse(item.data));
        expect(item.id, 'a reset carries an id').toBeTruthy();
        continue;
      }
      if (item.event === 'presence') {
        PresenceChange.parse(JSON.parse(item.data));
        expect(item.id, 'a presence event has no id: it moves no Last-Event-ID').toBeUndefined();
        continue;
      }
      const envelope = Envelope.parse(JSON.parse(item.data));
      expect(item.id).toBe(envelope.id);
      expect(item.event).toBe(envelope.type);
    }
  }

  /** Ends the stream, then checks every event received (ids, names, envelopes, reset signals). */
  async close(): Promise<void> {
    this.abort.abort();
    await this.done;
    this.expectWellFormed();
  }
}
