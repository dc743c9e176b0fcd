import { CloseCode, SSE_KEEPALIVE_COMMENT, SSE_OPEN_COMMENT } from '@relaykit/contracts';
import { afterEach, describe, expect, test } from 'vitest';
import { type RelayClient, RelayKitError, type StateChange, createClient } from '../src/index.ts';
import { KEEPALIVE_COMMENT, OPEN_COMMENT } from '../src/sse.ts';
import { FakeSocket, envelope, json, sleep, sseEvent, sseStream, until } from './fakes.ts';
import { RATE_LIMITED_CLOSE } from '../src/ws.ts';

let clients: RelayClient[] = [];
afterEach(() => {
  for (const c of clients) c.close();
  clients = [];
});
const make = (...args: Parameters<typeof createClient>) => {
  const c = createClient(...args);
  clients.push(c);
  return c;
};

test('the comments the client watches for are the contracts’ own', () => {
  expect(OPEN_COMMENT).toBe(SSE_OPEN_COMMENT);
  expect(KEEPALIVE_COMMENT).toBe(SSE_KEEPALIVE_COMMENT);
});

describe('SSE over fetch', () => {
  test("takes the server's event: error as why the stream ended, not as a bad event, and resumes", async () => {
    const urls: string[] = [];
    const streams: ReturnType<typeof sseStream>[] = [];
    const c = make({
      url: 'http://relay.test',
      transport: 'sse',
      topics: ['t'],
      backoff: { baseMs: 10 },
      fetch: async (url) => {
        urls.push(String(url));
        const s = sseStream();
        streams.push(s);
        return s.response;
      },
    });
    const errors: unknown[] = [];
    const states: StateChange[] = [];
    c.on('error', (e) => errors.push(e));
    c.on('state', (s) => states.push(s));
    await until(() => streams.length === 1);
    streams[0]!.write(`: ${SSE_OPEN_COMMENT}\n\nretry: 2000\n\n${sseEvent('e-1')}retry: 2000\n\nevent: error\ndata: {"code":"shutting_down"}\n\n`);
    await until(() => streams.length === 2);
    expect(errors).toEqual([]);
    expect(urls[1]).toBe('http://relay.test/v1/events?topic=t&lastEventId=e-1');
    expect(states.find((s) => s.state === 'reconnecting')).toMatchObject({ reason: 'the server ended the stream: shutting_down' });
  });

  test('opens on the opening comment, delivers events, resumes from the last id, surfaces reset', async () => {
    const urls: string[] = [];
    const streams: ReturnType<typeof sseStream>[] = [];
    const c = make({
      url: 'http://relay.test',
      transport: 'sse',
      topics: ['t'],
      token: 'secret',
      backoff: { baseMs: 10 },
      fetch: async (url, init) => {
        urls.push(String(url));
        expect(new Headers(init?.headers).get('authorization')).toBe('Bearer secret');
        const s = sseStream();
        streams.push(s);
        return s.response;
      },
    });
    const states: StateChange[] = [];
    const got: string[] = [];
    const resets: unknown[] = [];
    c.on('state', (s) => states.push(s));
    c.subscribe('t', (e) => got.push(e.id));
    c.on('reset', (r) => resets.push(r));
    await until(() => streams.length === 1);
    expect(c.state).toBe('connecting');
    streams[0]!.write(`: ${SSE_OPEN_COMMENT}\n\nretry: 2000\n\n`);
    await until(() => c.state === 'open');
    streams[0]!.write(sseEvent('e-1') + `: ${SSE_KEEPALIVE_COMMENT}\n\n` + sseEvent('e-2'));
    await until(() => got.length === 2);
    streams[0]!.end();
    await until(() => streams.length === 2);
    expect(urls[1]).toBe('http://relay.test/v1/events?topic=t&lastEventId=e-2');
    expect(states.map((s) => s.state)).toEqual(['connecting', 'open', 'reconnecting', 'connecting']);
    expect(states[2]).toMatchObject({ attempt: 1, reason: 'SSE stream ended' });
    // replay overlapping what was seen is dropped; a reset is surfaced
    streams[1]!.write(`: ${SSE_OPEN_COMMENT}\n\n` + sseEvent('e-2') + 'id: e-9\nevent: reset\ndata: {"code":"history_unavailable","topics":["t"]}\n\n' + sseEvent('e-3'));
    await until(() => got.length === 3);
    expect(got).toEqual(['e-1', 'e-2', 'e-3']);
    expect(resets).toEqual([{ code: 'history_unavailable', topics: ['t'], transport: 'sse' }]);
  });

  test('adding a topic reopens the stream with the new set and the last id', async () => {
    const urls: string[] = [];
    const c = make({
      url: 'http://relay.test',
      transport: 'sse',
      topics: ['a'],
      fetch: async (url) => {
        urls.push(String(url));
        const s = sseStream();
        s.write(`: ${SSE_OPEN_COMMENT}\n\n${urls.length === 1 ? sseEvent('a-1', 'a') : ''}`);
        return s.response;
      },
    });
    await until(() => c.lastEventId === 'a-1');
    c.subscribe('b');
    await until(() => urls.length === 2);
    expect(urls[1]).toBe('http://relay.test/v1/events?topic=a&topic=b&lastEventId=a-1');
  });

  test('a silent stream is replaced after about twice the heartbeat', async () => {
    let opens = 0;
    const c = make({
      url: 'http://relay.test',
      transport: 'sse',
      topics: ['t'],
      heartbeatMs: 40,
      backoff: { baseMs: 10 },
      fetch: async () => {
        opens++;
        const s = sseStream();
        s.write(`: ${SSE_OPEN_COMMENT}\n\n`);
        return s.response;
      },
    });
    const reasons: string[] = [];
    c.on('state', (s) => s.state === 'reconnecting' && reasons.push(s.reason ?? ''));
    await until(() => opens >= 2, 2000);
    expect(reasons[0]).toMatch(/silent for 330 ms/);
  });
});

describe('WebSocket', () => {
  afterEach(() => {
    FakeSocket.instances = [];
    FakeSocket.refuse = false;
    FakeSocket.holdSubscribed = false;
  });

  test('opens once its first subscribe is answered, not on the welcome: a presence read or publish on open finds it subscribed', async () => {
    FakeSocket.holdSubscribed = true;
    const c = make({ url: 'http://relay.test', transport: 'ws', topics: ['t'], WebSocket: FakeSocket as never });
    await until(() => FakeSocket.instances[0]?.ofType('subscribe').length === 1);
    const socket = FakeSocket.instances[0]!;
    await sleep(20);
    expect(c.state).not.toBe('open');
    socket.receive({ type: 'subscribed', topics: ['t'], ref: 'open' });
    expect(c.state).toBe('open');
  });

  test('subscribes on welcome, resumes from the last id, and retries a publish whose ack was lost with the same key', async () => {
    const c = make({ url: 'http://relay.test', transport: 'ws', topics: ['t'], token: 'tok', backoff: { baseMs: 10 }, WebSocket: FakeSocket as never });
    await until(() => c.state === 'open');
    const first = FakeSocket.instances[0]!;
    expect(first.url).toBe('ws://relay.test/v1/ws?token=tok');
    expect(first.sent[0]).toEqual({ type: 'subscribe', topics: ['t'], ref: 'open', lastEventId: 'p-0' });
    first.receive({ type: 'event', event: envelope('e-1') });
    const published = c.publish('t', 'x', { n: 1 });
    await until(() => first.sent.some((f) => f.type === 'publish'));
    const frame = first.sent.find((f) => f.type === 'publish')!;
    first.drop(); // the ack never comes
    await until(() => FakeSocket.instances.length === 2 && c.state === 'open');
    const second = FakeSocket.instances[1]!;
    expect(second.sent[0]).toEqual({ type: 'subscribe', topics: ['t'], ref: 'open', lastEventId: 'e-1' });
    await until(() => second.sent.some((f) => f.type === 'publish'));
    const retry = second.sent.find((f) => f.type === 'publish')!;
    expect(retry.key).toBe(frame.key);
    second.receive({ type: 'ack', ref: retry.ref, id: 'e-2', duplicate: true });
    expect(await published).toBe('e-2');
  });

  test('a publish rejected by the server rejects with its code, not retried', async () => {
    const c = make({ url: 'http://relay.test', transport: 'ws', topics: [], WebSocket: FakeSocket as never });
    await until(() => c.state === 'open');
    const socket = FakeSocket.instances[0]!;
    const result = c.publish('t', 'reset', null).catch((e: unknown) => e);
    await until(() => socket.sent.length === 1);
    socket.receive({ type: 'error', code: 'invalid_event_type', message: 'reserved', ref: socket.sent[0]!.ref });
    const error = (await result) as RelayKitError;
    expect(error).toBeInstanceOf(RelayKitError);
    expect(error.code).toBe('invalid_event_type');
    expect(socket.sent).toHaveLength(1);
  });

  test('auto: SSE that never opens, then a refused upgrade, end on long polling, with the reason', async () => {
    FakeSocket.refuse = true;
    const polls: string[] = [];
    const c = make({
      url: 'http://relay.test',
      topics: ['t'],
      openTimeoutMs: 30,
      WebSocket: FakeSocket as never,
      fetch: async (url) => {
        const u = String(url);
        if (u.includes('/v1/events')) return sseStream().response; // buffered: nothing ever arrives
        polls.push(u);
        if (polls.length === 1) return json({ events: [], cursor: 'c-0' });
        await sleep(20);
        return json({ events: polls.length === 2 ? [envelope('c-1')] : [], cursor: polls.length >= 2 ? 'c-1' : 'c-0' });
      },
    });
    const changes: string[] = [];
    c.on('transport', (t) => changes.push(t.transport));
    const got: string[] = [];
    c.on('event', (e) => got.push(e.id));
    await until(() => got.length === 1);
    expect(changes).toEqual(['ws', 'poll']);
    expect(c.transport).toBe('poll');
    expect(c.transportReason).toMatch(/^ws failed before opening \(WebSocket failed before welcome.*falling back to poll$/);
    expect(polls[0]).toBe('http://relay.test/v1/topics/t/events?wait=0');
    expect(polls[1]).toBe('http://relay.test/v1/topics/t/events?wait=25&after=c-0');
  });
});

describe('HTTP publish', () => {
  test('a lost answer is retried with the same key; the server’s error is final', async () => {
    const keys: string[] = [];
    const c = make({
      url: 'http://relay.test',
      transport: 'poll',
      autoConnect: false,
      fetch: async (_url, init) => {
        const body = JSON.parse(String(init?.body)) as { key: string; type: string };
        keys.push(body.key);
        if (body.type === 'bad') return json({ error: { code: 'invalid_event_type', message: 'no' } }, 400);
        if (keys.length === 1) throw new TypeError('fetch failed'); // stored, but the answer was lost
        return json({ id: 'e-1', duplicate: true });
      },
    });
    expect(await c.publish('t', 'x', 1)).toBe('e-1');
    expect(keys).toHaveLength(2);
    expect(keys[0]).toBe(keys[1]);
    const error = (await c.publish('t', 'bad', 1).catch((e: unknown) => e)) as RelayKitError;
    expect(error.code).toBe('invalid_event_type');
    expect(error.status).toBe(400);
    expect(keys).toHaveLength(3);
  });
});

describe('HTTP publish during an outage', () => {
  test('503 broker_unavailable and auth_unavailable are retried with the same key', async () => {
    const keys: string[] = [];
    const c = make({
      url: 'http://relay.test',
      transport: 'poll',
      autoConnect: false,
      fetch: async (_url, init) => {
        keys.push((JSON.parse(String(init?.body)) as { key: string }).key);
        if (keys.length === 1) return json({ error: { code: 'broker_unavailable', message: 'redis down' } }, 503);
        if (keys.length === 2) return json({ error: { code: 'auth_unavailable', message: 'jwks down' } }, 503);
        return json({ id: 'e-9', duplicate: false });
      },
    });
    expect(await c.publish('t', 'x', 1)).toBe('e-9');
    expect(keys).toHaveLength(3);
    expect(new Set(keys).size).toBe(1);
  });
});

describe('page visibility', () => {
  test('pauses while hidden and resumes, with replay, when visible', async () => {
    const listeners: (() => void)[] = [];
    const doc = { visibilityState: 'visible', addEventListener: (_: string, fn: () => void) => listeners.push(fn), removeEventListener() {} };
    (globalThis as { document?: unknown }).document = doc;
    try {
      const urls: string[] = [];
      const c = make({
        url: 'http://relay.test',
        transport: 'sse',
        topics: ['t'],
        pauseWhenHidden: true,
        fetch: async (url) => {
          urls.push(String(url));
          const s = sseStream();
          s.write(`: ${SSE_OPEN_COMMENT}\n\n${urls.length === 1 ? sseEvent('e-4') : ''}`);
          return s.response;
        },
      });
      await until(() => c.lastEventId === 'e-4');
      doc.visibilityState = 'hidden';
      listeners.forEach((fn) => fn());
      expect(c.state).toBe('paused');
      doc.visibilityState = 'visible';
      listeners.forEach((fn) => fn());
      await until(() => c.state === 'open');
      expect(urls[1]).toMatch(/lastEventId=e-4$/);
    } finally {
      delete (globalThis as { document?: unknown }).document;
    }
  });
});

describe('native EventSource', () => {
  class FakeEventSource {
    static last: FakeEventSource | undefined;
    listeners = new Map<string, ((e: unknown) => void)[]>();
    closed = false;
    constructor(readonly url: string) {
      FakeEventSource.last = this;
      setTimeout(() => this.emit('open', {}), 1);
    }
    addEventListener(type: string, fn: (e: unknown) => void) {
      this.listeners.set(type, [...(this.listeners.get(type) ?? []), fn]);
    }
    emit(type: string, event: object) {
      for (const fn of this.listeners.get(type) ?? []) fn({ type, ...event });
    }
    close() {
      this.closed = true;
    }
  }

  test('listens to the named types, reconnects itself (not EventSource) with the last id, token in the query', async () => {
    const c = make({
      url: 'http://relay.test',
      transport: 'sse',
      nativeEventSource: true,
      eventTypes: ['x'],
      topics: ['t'],
      token: 'tok',
      backoff: { baseMs: 10 },
      EventSource: FakeEventSource as never,
    });
    const got: string[] = [];
    c.on('event', (e) => got.push(e.id));
    await until(() => c.state === 'open');
    const first = FakeEventSource.last!;
    expect(first.url).toBe('http://relay.test/v1/events?topic=t&token=tok');
    expect([...first.listeners.keys()]).toEqual(['open', 'reset', 'message', 'presence', 'x', 'error']);
    first.emit('x', { data: JSON.stringify(envelope('e-1')), lastEventId: 'e-1' });
    first.emit('error', {});
    expect(first.closed).toBe(true);
    await until(() => FakeEventSource.last !== first && c.state === 'open');
    expect(FakeEventSource.last!.url).toBe('http://relay.test/v1/events?topic=t&lastEventId=e-1&token=tok');
    expect(got).toEqual(['e-1']);
  });
});

describe('backoff across attempts', () => {
  test('grows while attempts fail and starts over once a connection stayed healthy', async () => {
    let n = 0;
    const c = make({
      url: 'http://relay.test',
      transport: 'sse',
      topics: ['t'],
      healthyMs: 50,
      backoff: { baseMs: 8 },
      random: () => 1,
      fetch: async () => {
        n++;
        if (n <= 3) throw new TypeError('fetch failed');
        const s = sseStream();
        s.write(`: ${SSE_OPEN_COMMENT}\n\n`);
        if (n === 4) setTimeout(() => s.end(), 400); // open long enough to count as healthy
        return s.response;
      },
    });
    const delays: [number, number][] = [];
    c.on('state', (s) => s.state === 'reconnecting' && delays.push([s.attempt, s.delayMs!]));
    await until(() => n >= 5 && c.state === 'open');
    expect(delays).toEqual([
      [1, 8],
      [2, 16],
      [3, 32],
      [1, 8],
    ]);
  });
});

test('auto: a refusal by the server (401) is reported, not taken for a broken transport', async () => {
  const c = make({
    url: 'http://relay.test',
    topics: ['t'],
    backoff: { baseMs: 5 },
    fetch: async () => json({ error: { code: 'unauthorized', message: 'missing or invalid token' } }, 401),
  });
  const errors: string[] = [];
  c.on('error', (e) => errors.push(e.code));
  const changes: string[] = [];
  c.on('transport', (t) => changes.push(t.transport));
  await until(() => errors.length >= 2);
  expect(errors[0]).toBe('unauthorized');
  expect(changes).toEqual([]);
  expect(c.transport).toBe('sse');
});

describe('rate limits', () => {
  test('the close code the client reads as rate_limited is the contracts’ own', () => {
    expect(RATE_LIMITED_CLOSE).toBe(CloseCode.rateLimited);
  });

  test('a publish refused with 429 is retried with the same key, not before Retry-After', async () => {
    const sent: Array<{ key: string; at: number }> = [];
    const c = make({
      url: 'http://relay.test',
      transport: 'poll',
      autoConnect: false,
      random: () => 0,
      fetch: async (_url, init) => {
        sent.push({ key: (JSON.parse(String(init?.body)) as { key: string }).key, at: Date.now() });
        if (sent.length === 1) {
          return new Response(JSON.stringify({ error: { code: 'rate_limited', message: 'publish rate limit exceeded; retry in 1 s' } }), {
            status: 429,
            headers: { 'content-type': 'application/json', 'retry-after': '1' },
          });
        }
        return json({ id: 'e-1', duplicate: false }, 201);
      },
    });
    expect(await c.publish('t', 'x', 1)).toBe('e-1');
    expect(sent).toHaveLength(2);
    expect(sent[1]!.key).toBe(sent[0]!.key);
    // Backoff alone would have retried after 100-200 ms.
    expect(sent[1]!.at - sent[0]!.at).toBeGreaterThanOrEqual(990);
  });

  test('a stream refused with 429 reconnects after Retry-After, not on the backoff schedule', async () => {
    let n = 0;
    const c = make({
      url: 'http://relay.test',
      transport: 'sse',
      topics: ['t'],
      backoff: { baseMs: 5 },
      fetch: async () => {
        n++;
        if (n === 1) {
          return new Response(JSON.stringify({ error: { code: 'rate_limited', message: 'connection rate limit exceeded; retry in 2 s' } }), {
            status: 429,
            headers: { 'content-type': 'application/json', 'retry-after': '2' },
          });
        }
        const s = sseStream();
        s.write(`: ${SSE_OPEN_COMMENT}\n\n`);
        return s.response;
      },
    });
    const errors: string[] = [];
    c.on('error', (e) => errors.push(e.code));
    const delays: number[] = [];
    c.on('state', (s) => s.state === 'reconnecting' && delays.push(s.delayMs!));
    await until(() => delays.length === 1);
    expect(delays).toEqual([2000]);
    expect(errors).toEqual(['rate_limited']);
    expect(c.transport, 'a 429 is the server answering: no transport switch').toBe('sse');
    expect(n).toBe(1);
  });

  test('a WebSocket closed with 4029 reconnects no sooner than 1 s', async () => {
    class ClosingSocket {
      static instances: ClosingSocket[] = [];
      onopen: (() => void) | null = null;
      onmessage: ((event: { data: string }) => void) | null = null;
      onclose: ((event: { code: number; reason: string }) => void) | null = null;
      onerror: (() => void) | null = null;
      readyState = 1;
      constructor() {
        ClosingSocket.instances.push(this);
        setTimeout(() => {
          this.onopen?.();
          this.onmessage?.({ data: JSON.stringify({ type: 'welcome', version: '1', connectionId: 'c', heartbeatMs: 15000, historySize: 10, maxMessageBytes: 65536, maxTopics: 8, position: 'e-0', server: 'test' }) });
          setTimeout(() => this.onclose?.({ code: 4029, reason: 'rate limited' }), 1);
        }, 1);
      }
      send() {}
      close() {}
    }
    const c = make({ url: 'http://relay.test', transport: 'ws', topics: ['t'], backoff: { baseMs: 5 }, WebSocket: ClosingSocket as unknown as typeof WebSocket });
    const delays: number[] = [];
    c.on('state', (s) => s.state === 'reconnecting' && delays.push(s.delayMs!));
    await until(() => delays.length === 1);
    expect(delays[0]).toBeGreaterThanOrEqual(1000);
  });
});
