import { SSE_OPEN_COMMENT } from '@relaykit/contracts';
import { afterEach, describe, expect, test } from 'vitest';
import { type RelayClient, type RelayKitError, createClient } from '../src/index.ts';
import { expiryOf, refreshDelay } from '../src/token.ts';
import { FakeSocket, envelope, json, sleep, until } from './fakes.ts';

/** An unsigned JWT-shaped token expiring `ms` from now (the client reads exp, never verifies). */
const jwt = (name: string, ms: number) => `h.${btoa(JSON.stringify({ sub: name, exp: (Date.now() + ms) / 1000 })).replace(/=+$/, '')}.${name}`;
const nameOf = (token: string | null | undefined) => token?.split('.')[2];

/** Hands out t1, t2, ... each expiring `ms` after it is asked for. */
function tokens(ms: number) {
  const issued: string[] = [];
  return { issued, getToken: async () => (issued.push(jwt(`t${issued.length + 1}`, ms)), issued.at(-1)!) };
}

let clients: RelayClient[] = [];
afterEach(() => {
  for (const c of clients) c.close();
  clients = [];
  FakeSocket.instances = [];
});
const make = (...args: Parameters<typeof createClient>) => {
  const c = createClient(...args);
  clients.push(c);
  return c;
};

/** The token a socket connected with (the `token` query parameter), by name. */
const tokenOf = (socket: FakeSocket) => nameOf(new URL(socket.url).searchParams.get('token'));

test('expiryOf reads a JWT exp without verifying; refreshDelay leads by leadMs, or half when less is left', () => {
  expect(expiryOf(`h.${btoa('{"exp":1700000000}')}.s`)).toBe(1_700_000_000_000);
  expect(expiryOf('h.e30.s')).toBeUndefined(); // {}
  expect(expiryOf('opaque-token')).toBeUndefined();
  expect(expiryOf('h.!!!.s')).toBeUndefined();
  expect(refreshDelay(100_000, 0, 30_000)).toBe(70_000);
  expect(refreshDelay(10_000, 0, 30_000)).toBe(5_000);
  expect(refreshDelay(0, 10, 30_000)).toBe(0);
});

describe('WebSocket', () => {
  test('sends a refresh frame with a new token before exp, and again before the new exp, on the same socket', async () => {
    const source = tokens(400);
    const c = make({ url: 'http://relay.test', transport: 'ws', topics: ['t'], getToken: source.getToken, refreshLeadMs: 200, WebSocket: FakeSocket as never });
    await until(() => c.state === 'open');
    const socket = FakeSocket.instances[0]!;
    expect(tokenOf(socket)).toBe('t1');
    await until(() => socket.ofType('refresh').length === 1);
    const first = socket.ofType('refresh')[0]!;
    expect(nameOf(first.token as string)).toBe('t2');
    expect(first.ref).toBe('refresh-1');
    socket.receive({ type: 'refreshed', ref: 'refresh-1', expiresAt: expiryOf(first.token as string) });
    await until(() => socket.ofType('refresh').length === 2);
    expect(nameOf(socket.ofType('refresh')[1]!.token as string)).toBe('t3');
    expect(FakeSocket.instances).toHaveLength(1);
    expect(c.state).toBe('open');
  });

  test('topics a refresh drops (unsubscribed with its ref) are unsubscribed and reported', async () => {
    const source = tokens(300);
    const c = make({ url: 'http://relay.test', transport: 'ws', topics: ['a', 'b'], getToken: source.getToken, refreshLeadMs: 250, WebSocket: FakeSocket as never });
    const errors: RelayKitError[] = [];
    c.on('error', (e) => errors.push(e));
    await until(() => FakeSocket.instances[0]?.ofType('refresh').length === 1);
    const socket = FakeSocket.instances[0]!;
    socket.receive({ type: 'unsubscribed', topics: ['b'], ref: 'refresh-1' });
    socket.receive({ type: 'refreshed', ref: 'refresh-1' });
    await until(() => errors.length === 1);
    expect(errors[0]).toMatchObject({ code: 'forbidden' });
    expect(c.topics).toEqual(['a']);
    expect(socket.ofType('unsubscribe')).toEqual([]); // the server already dropped it
  });

  test('a refused refresh reconnects with a new token, resuming from the last id', async () => {
    const source = tokens(300);
    const c = make({ url: 'http://relay.test', transport: 'ws', topics: ['t'], getToken: source.getToken, refreshLeadMs: 250, WebSocket: FakeSocket as never });
    await until(() => c.state === 'open');
    FakeSocket.instances[0]!.receive({ type: 'event', event: envelope('e-5') });
    await until(() => FakeSocket.instances[0]!.ofType('refresh').length === 1);
    FakeSocket.instances[0]!.receive({ type: 'error', code: 'unauthorized', message: 'no', ref: 'refresh-1' });
    await until(() => FakeSocket.instances.length === 2 && FakeSocket.instances[1]!.ofType('subscribe').length === 1);
    expect(tokenOf(FakeSocket.instances[1]!)).toBe('t2');
    expect(FakeSocket.instances[1]!.ofType('subscribe')[0]).toMatchObject({ topics: ['t'], lastEventId: 'e-5' });
  });

  test('on close 4001 gets a new token and reconnects at once (no backoff), resuming', async () => {
    const source = tokens(60_000);
    const c = make({ url: 'http://relay.test', transport: 'ws', topics: ['t'], getToken: source.getToken, backoff: { baseMs: 20_000 }, WebSocket: FakeSocket as never });
    await until(() => c.state === 'open');
    FakeSocket.instances[0]!.receive({ type: 'event', event: envelope('e-1') });
    FakeSocket.instances[0]!.onclose?.({ code: 4001, reason: 'token expired' });
    await until(() => FakeSocket.instances[1]?.ofType('subscribe').length === 1, 1000);
    expect(tokenOf(FakeSocket.instances[1]!)).toBe('t2');
    expect(FakeSocket.instances[1]!.ofType('subscribe')[0]).toMatchObject({ lastEventId: 'e-1' });
  });
});

/** An SSE response whose bytes the test writes. */
function sseStream() {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
  const utf8 = new TextEncoder();
  return {
    response: new Response(body, { headers: { 'content-type': 'text/event-stream' } }),
    write: (text: string) => controller.enqueue(utf8.encode(text)),
  };
}
const sseEvent = (id: string) => `id: ${id}\nevent: x\ndata: ${JSON.stringify(envelope(id))}\n\n`;

describe('SSE and long polling', () => {
  test('SSE reconnects with the new token before exp, resuming from the last id', async () => {
    const source = tokens(300);
    const opened: { url: string; token: string | undefined; stream: ReturnType<typeof sseStream> }[] = [];
    const c = make({
      url: 'http://relay.test',
      transport: 'sse',
      topics: ['t'],
      getToken: source.getToken,
      refreshLeadMs: 250,
      fetch: async (url, init) => {
        const stream = sseStream();
        opened.push({ url: String(url), token: nameOf(new Headers(init?.headers).get('authorization')), stream });
        stream.write(`: ${SSE_OPEN_COMMENT}\n\n${opened.length === 1 ? sseEvent('e-1') : ''}`);
        return stream.response;
      },
    });
    const got: string[] = [];
    c.on('event', (e) => got.push(e.id));
    await until(() => opened.length === 2);
    expect(opened.map((o) => o.token)).toEqual(['t1', 't2']);
    expect(opened[1]!.url).toBe('http://relay.test/v1/events?topic=t&lastEventId=e-1');
    expect(got).toEqual(['e-1']);
  });

  test('SSE event: error token_expired gets a new token and reconnects at once', async () => {
    const source = tokens(60_000);
    const opened: (string | undefined)[] = [];
    const streams: ReturnType<typeof sseStream>[] = [];
    make({
      url: 'http://relay.test',
      transport: 'sse',
      topics: ['t'],
      getToken: source.getToken,
      backoff: { baseMs: 20_000 },
      fetch: async (_url, init) => {
        const stream = sseStream();
        streams.push(stream);
        opened.push(nameOf(new Headers(init?.headers).get('authorization')));
        stream.write(`: ${SSE_OPEN_COMMENT}\n\n`);
        return stream.response;
      },
    });
    await until(() => streams.length === 1);
    streams[0]!.write('event: error\ndata: {"code":"token_expired"}\n\n');
    await until(() => opened.length === 2, 1000);
    expect(opened).toEqual(['t1', 't2']);
  });

  test('a poll refused 401 token_expired gets a new token and polls on from its cursor; a second refusal in a row backs off', async () => {
    const source = tokens(60_000);
    const polls: { url: string; token: string | undefined }[] = [];
    const c = make({
      url: 'http://relay.test',
      transport: 'poll',
      topics: ['t'],
      getToken: source.getToken,
      backoff: { baseMs: 20_000 },
      fetch: async (url, init) => {
        polls.push({ url: String(url), token: nameOf(new Headers(init?.headers).get('authorization')) });
        if (polls.length === 1) return json({ events: [envelope('c-1')], cursor: 'c-1' });
        if (polls.length <= 3) return json({ error: { code: 'token_expired', message: 'expired' } }, 401);
        return new Promise<Response>(() => {});
      },
    });
    const errors: RelayKitError[] = [];
    c.on('error', (e) => errors.push(e));
    await until(() => polls.length === 3, 1000);
    expect(polls[2]).toEqual({ url: 'http://relay.test/v1/topics/t/events?wait=0&after=c-1', token: 't2' });
    await until(() => c.state === 'reconnecting');
    expect(errors.map((e) => e.code)).toEqual(['token_expired']);
    await sleep(100);
    expect(polls).toHaveLength(3);
  });
});

test('publishes over HTTP with the connection’s token while it is good; a 401 token_expired retries with a new one', async () => {
  const source = tokens(60_000);
  const posts: (string | undefined)[] = [];
  const c = make({
    url: 'http://relay.test',
    transport: 'poll',
    getToken: source.getToken,
    backoff: { baseMs: 10 },
    fetch: async (_url, init) => {
      if (init?.method !== 'POST') return new Promise<Response>(() => {});
      posts.push(nameOf(new Headers(init.headers).get('authorization')));
      return posts.length === 2 ? json({ error: { code: 'token_expired', message: 'expired' } }, 401) : json({ id: `e-${posts.length}` }, 201);
    },
  });
  await until(() => c.state === 'open');
  expect(await c.publish('t', 'x', 1)).toBe('e-1');
  expect(await c.publish('t', 'x', 2)).toBe('e-3');
  expect(posts).toEqual(['t1', 't1', 't2']);
});
