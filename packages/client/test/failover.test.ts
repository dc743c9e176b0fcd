/** Several URLs of one cluster: which URL each attempt goes to, resume there, and publish retries. */
import { SSE_OPEN_COMMENT } from '@relaykit/contracts';
import { afterEach, describe, expect, test } from 'vitest';
import { backoffDelay } from '../src/backoff.ts';
import { type RelayClient, RelayKitError, type StateChange, createClient } from '../src/index.ts';
import { FakeSocket, envelope, json, sleep, sseEvent, sseStream, until } from './fakes.ts';

const URLS = ['http://a.test', 'http://b.test', 'http://c.test'];
const origin = (url: string) => new URL(url).origin;

let clients: RelayClient[] = [];
afterEach(() => {
  for (const c of clients) c.close();
  clients = [];
  FakeSocket.instances = [];
  FakeSocket.refuse = false;
});
const make = (...args: Parameters<typeof createClient>) => {
  const c = createClient(...args);
  clients.push(c);
  return c;
};
const record = (c: RelayClient, state: StateChange['state']) => {
  const seen: StateChange[] = [];
  c.on('state', (s) => s.state === state && seen.push(s));
  return seen;
};

describe('connecting with several URLs', () => {
  test('SSE: a lost stream moves to the next URL at once with the last id; backoff only after every URL failed', async () => {
    const requests: string[] = [];
    const live = new Map<string, ReturnType<typeof sseStream>>();
    const c = make({
      url: URLS,
      transport: 'sse',
      topics: ['t'],
      backoff: { baseMs: 20 },
      random: () => 0.4, // starts at b.test
      fetch: async (url) => {
        requests.push(String(url));
        const host = origin(String(url));
        if (requests.length === 2 || requests.length === 3) throw new TypeError('fetch failed'); // c and a are down
        const s = sseStream();
        live.set(host, s);
        s.write(`: ${SSE_OPEN_COMMENT}\n\n`);
        return s.response;
      },
    });
    expect(c.urls).toEqual(URLS);
    expect(c.url).toBe('http://b.test');
    const got: string[] = [];
    c.on('event', (e) => got.push(e.id));
    const reconnecting = record(c, 'reconnecting');
    await until(() => c.state === 'open');
    live.get('http://b.test')!.write(sseEvent('e-1') + sseEvent('e-2'));
    await until(() => got.length === 2);
    live.get('http://b.test')!.end(); // the instance died
    await until(() => requests.length === 4 && c.state === 'open');
    expect(requests.map(origin)).toEqual(['http://b.test', 'http://c.test', 'http://a.test', 'http://b.test']);
    expect(requests.slice(1)).toEqual([
      'http://c.test/v1/events?topic=t&lastEventId=e-2',
      'http://a.test/v1/events?topic=t&lastEventId=e-2',
      'http://b.test/v1/events?topic=t&lastEventId=e-2',
    ]);
    expect(reconnecting.map((s) => [s.url, s.attempt, s.delayMs])).toEqual([
      ['http://c.test', 1, 0],
      ['http://a.test', 2, 0],
      ['http://b.test', 3, backoffDelay(1, { baseMs: 20 }, () => 0.4)],
    ]);
    live.get('http://b.test')!.write(sseEvent('e-2') + sseEvent('e-3')); // the replay overlaps: dropped
    await until(() => got.length === 3);
    expect(got).toEqual(['e-1', 'e-2', 'e-3']);
  });

  test('the backoff grows per full round of URLs, not per URL', async () => {
    const c = make({
      url: URLS.slice(0, 2),
      transport: 'sse',
      topics: ['t'],
      backoff: { baseMs: 8 },
      random: () => 0,
      fetch: async () => {
        throw new TypeError('fetch failed');
      },
    });
    const reconnecting = record(c, 'reconnecting');
    await until(() => reconnecting.length >= 6);
    expect(reconnecting.slice(0, 6).map((s) => [s.url, s.delayMs])).toEqual([
      ['http://b.test', 0],
      ['http://a.test', 4],
      ['http://b.test', 0],
      ['http://a.test', 8],
      ['http://b.test', 0],
      ['http://a.test', 16],
    ]);
  });

  test('long polling carries each topic’s cursor to the next URL', async () => {
    const polls: string[] = [];
    const c = make({
      url: URLS.slice(0, 2),
      transport: 'poll',
      topics: ['t'],
      random: () => 0,
      fetch: async (url) => {
        polls.push(String(url));
        if (polls.length === 1) return json({ events: [envelope('e-1')], cursor: 'e-1' });
        if (polls.length === 2) throw new TypeError('socket hang up'); // a.test died mid-poll
        await sleep(20); // a long poll waits
        return json({ events: polls.length === 3 ? [envelope('e-2')] : [], cursor: 'e-2' });
      },
    });
    const got: string[] = [];
    c.on('event', (e) => got.push(e.id));
    await until(() => got.length === 2);
    expect(polls.slice(0, 3)).toEqual([
      'http://a.test/v1/topics/t/events?wait=0',
      'http://a.test/v1/topics/t/events?wait=25&after=e-1',
      'http://b.test/v1/topics/t/events?wait=0&after=e-1',
    ]);
    expect(got).toEqual(['e-1', 'e-2']);
  });

  test('auto: the transports fall back on one URL before the next URL; a proven transport moves on alone', async () => {
    FakeSocket.refuse = ['ws://a.test'];
    const streams: ReturnType<typeof sseStream>[] = [];
    const c = make({
      url: URLS.slice(0, 2),
      topics: ['t'],
      backoff: { baseMs: 10 },
      random: () => 0,
      WebSocket: FakeSocket as never,
      fetch: async (url) => {
        if (String(url).startsWith('http://a.test')) throw new TypeError('fetch failed'); // a.test is down
        const s = sseStream();
        streams.push(s);
        s.write(`: ${SSE_OPEN_COMMENT}\n\n`);
        return s.response;
      },
    });
    const connecting = record(c, 'connecting');
    await until(() => c.state === 'open');
    expect(connecting.map((s) => `${s.transport} ${s.url}`)).toEqual(['sse http://a.test', 'ws http://a.test', 'poll http://a.test', 'sse http://b.test']);
    streams[0]!.end();
    await until(() => streams.length === 2 && c.state === 'open');
    // SSE has opened once: a.test failing again costs one attempt, not another walk through the transports
    expect(connecting.slice(4).map((s) => `${s.transport} ${s.url}`)).toEqual(['sse http://a.test', 'sse http://b.test']);
    expect(c.transport).toBe('sse');
  });
});

describe('publishing with several URLs', () => {
  test('a publish whose instance fails is retried at once on the next URL with the same key', async () => {
    const posts: { url: string; key: string }[] = [];
    const c = make({
      url: URLS,
      autoConnect: false,
      random: () => 0,
      fetch: async (url, init) => {
        posts.push({ url: String(url), key: (JSON.parse(String(init?.body)) as { key: string }).key });
        if (posts.length < 3) throw new TypeError('fetch failed');
        return json({ id: 'e-7', duplicate: true });
      },
    });
    expect(await c.publish('t', 'x', 1)).toBe('e-7');
    expect(posts.map((p) => origin(p.url))).toEqual(URLS);
    expect(new Set(posts.map((p) => p.key)).size).toBe(1);
  });

  test('when every URL fails the retries back off per round, then give up with a timeout', async () => {
    const tried: string[] = [];
    const c = make({
      url: URLS,
      autoConnect: false,
      random: () => 0,
      publishTimeoutMs: 1000,
      fetch: async (url) => {
        tried.push(origin(String(url)));
        throw new TypeError('fetch failed');
      },
    });
    const error = (await c.publish('t', 'x', 1).catch((e: unknown) => e)) as RelayKitError;
    expect(error.code).toBe('timeout');
    // rounds wait 100, 200, 400 ms; the next (800) would pass the deadline
    expect(tried).toEqual([...URLS, ...URLS, ...URLS, ...URLS]);
  });

  test('WebSocket: a publish in flight when the instance dies lands once, retried with its key on the next URL', async () => {
    const posts: { url: string; key: string }[] = [];
    const c = make({
      url: URLS.slice(0, 2),
      transport: 'ws',
      topics: ['t'],
      random: () => 0,
      WebSocket: FakeSocket as never,
      fetch: async (url, init) => {
        posts.push({ url: String(url), key: (JSON.parse(String(init?.body)) as { key: string }).key });
        return json({ id: 'e-5', duplicate: true });
      },
    });
    await until(() => c.state === 'open');
    const first = FakeSocket.instances[0]!;
    expect(first.url).toBe('ws://a.test/v1/ws');
    const published = c.publish('t', 'x', { n: 1 });
    await until(() => first.sent.some((f) => f.type === 'publish'));
    const frame = first.sent.find((f) => f.type === 'publish')!;
    FakeSocket.refuse = ['ws://a.test'];
    first.drop(); // stored or not, the ack never comes
    await until(() => FakeSocket.instances.length === 2 && c.state === 'open');
    const second = FakeSocket.instances[1]!;
    expect(second.url).toBe('ws://b.test/v1/ws');
    expect(second.sent[0]).toEqual({ type: 'subscribe', topics: ['t'], ref: 'open', lastEventId: 'p-0' });
    // the retry goes to b.test, over HTTP or over the new socket, whichever is ready first
    await until(() => posts.length > 0 || second.sent.some((f) => f.type === 'publish'));
    const retryFrame = second.sent.find((f) => f.type === 'publish');
    if (retryFrame) {
      expect(retryFrame.key).toBe(frame.key);
      second.receive({ type: 'ack', ref: retryFrame.ref, id: 'e-5', duplicate: true });
    } else {
      expect(posts).toEqual([{ url: 'http://b.test/v1/topics/t/events', key: frame.key }]);
    }
    expect(await published).toBe('e-5');
  });
});
