/**
 * A quick check of the Bun app on its own (the conformance suite is the real proof): starts
 * `bun src/main.ts` with PORT=0 and exercises each transport once.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import type { Subprocess } from 'bun';
import { LISTENING_LINE } from '@relaykit/contracts';

let server: Subprocess<'ignore', 'pipe', 'inherit'>;
let base = '';

beforeAll(async () => {
  server = Bun.spawn([process.execPath, 'src/main.ts'], {
    cwd: `${import.meta.dir}/..`,
    env: { ...Bun.env, PORT: '0', HEARTBEAT_MS: '300', MAX_MESSAGE_BYTES: '1024', HISTORY_SIZE: '3' },
    stdout: 'pipe',
  });
  const reader = server.stdout.getReader();
  let text = '';
  while (!base) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`server exited: ${text}`);
    text += new TextDecoder().decode(value);
    base = LISTENING_LINE.exec(text)?.[2] ?? '';
  }
  reader.releaseLock();
});

afterAll(() => server.kill());

const publish = (topic: string, data: unknown) =>
  fetch(`${base}/v1/topics/${topic}/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'note', data }),
  }).then((r) => r.json() as Promise<{ id: string }>);

async function gauges(): Promise<Record<string, number>> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^relaykit_(connections\{transport="(\w+)"\}|topics) (\d+)$/gm)) out[m[2] ?? 'topics'] = Number(m[3]);
  return out;
}

function openWs(): Promise<{ ws: WebSocket; frames: any[]; next: (type: string) => Promise<any>; closed: Promise<number> }> {
  const ws = new WebSocket(`${base.replace('http', 'ws')}/v1/ws`);
  const frames: any[] = [];
  const waiters: Array<() => void> = [];
  ws.onmessage = (e) => {
    frames.push(JSON.parse(String(e.data)));
    for (const w of waiters.splice(0)) w();
  };
  const closed = new Promise<number>((resolve) => (ws.onclose = (e) => resolve(e.code)));
  const next = async (type: string) => {
    for (;;) {
      const i = frames.findIndex((f) => f.type === type);
      if (i >= 0) return frames.splice(i, 1)[0];
      await new Promise<void>((r) => waiters.push(r));
    }
  };
  return new Promise((resolve) => (ws.onopen = () => resolve({ ws, frames, next, closed })));
}

test('health names the runtime', async () => {
  expect(await (await fetch(`${base}/healthz`)).json()).toMatchObject({ status: 'ok', server: 'bun' });
});

test('WebSocket: welcome, subscribe, publish/ack, event, pong, errors, reset', async () => {
  const c = await openWs();
  expect(await c.next('welcome')).toMatchObject({ server: 'bun', maxMessageBytes: 1024 });
  c.ws.send(JSON.stringify({ type: 'subscribe', topics: ['w1'], ref: 1 }));
  expect(await c.next('subscribed')).toMatchObject({ topics: ['w1'], ref: 1 });
  c.ws.send(JSON.stringify({ type: 'publish', topic: 'w1', event: { type: 't', data: 1 }, ref: 'p' }));
  const ack = await c.next('ack');
  expect((await c.next('event')).event.id).toBe(ack.id);
  c.ws.send(JSON.stringify({ type: 'ping', ref: 7 }));
  expect(await c.next('pong')).toEqual({ type: 'pong', ref: 7 });
  c.ws.send('nope');
  expect(await c.next('error')).toMatchObject({ code: 'bad_json' });
  c.ws.send(new Uint8Array([1]));
  expect(await c.next('error')).toMatchObject({ code: 'binary_not_supported' });
  for (let i = 0; i < 5; i++) await publish('w2', i);
  c.ws.send(JSON.stringify({ type: 'subscribe', topics: ['w2'], lastEventId: ack.id }));
  expect(await c.next('reset')).toMatchObject({ code: 'history_unavailable', topics: ['w2'] });
  c.ws.close();
  await c.closed;
});

test('WebSocket: oversize frame closes with 1009; heartbeat keeps a quiet socket open', async () => {
  const c = await openWs();
  await Bun.sleep(1000); // > 3 heartbeats: the Bun client answers pings
  expect(c.ws.readyState).toBe(WebSocket.OPEN);
  c.ws.send('x'.repeat(2000));
  expect(await c.closed).toBe(1009);
});

test('SSE: preamble, event, keepalive past Bun idleTimeout semantics, resume', async () => {
  const { id } = await publish('s1', 'a');
  const ctl = new AbortController();
  const res = await fetch(`${base}/v1/events?topic=s1`, { headers: { 'last-event-id': id }, signal: ctl.signal });
  expect(res.headers.get('content-type')).toStartWith('text/event-stream');
  const reader = res.body!.getReader();
  let text = '';
  const read = async (what: string) => {
    while (!text.includes(what)) text += new TextDecoder().decode((await reader.read()).value);
  };
  await read('retry:');
  const second = await publish('s1', 'b');
  await read(`id: ${second.id}`);
  expect(text).not.toContain(`id: ${id}\n`);
  await read(': keepalive');
  expect((await gauges()).sse).toBe(1);
  ctl.abort();
  await Bun.sleep(200);
  expect(await gauges()).toEqual({ sse: 0, ws: 0, poll: 0, topics: 0 });
});

test('long polling answers with the next event', async () => {
  const first = await publish('p1', 1);
  const pending = fetch(`${base}/v1/topics/p1/events?after=${first.id}&wait=5`).then((r) => r.json() as any);
  await Bun.sleep(100);
  const second = await publish('p1', 2);
  const answer = await pending;
  expect(answer.events.map((e: any) => e.id)).toEqual([second.id]);
  expect(answer.cursor).toBe(second.id);
});

test('errors are JSON on every path', async () => {
  const res = await fetch(`${base}/v1/nowhere`);
  expect(res.status).toBe(404);
  expect(await res.json()).toMatchObject({ error: { code: 'not_found' } });
  expect((await fetch(`${base}/v1/events`)).status).toBe(400);
  expect((await fetch(`${base}/v1/ws`)).status).toBe(400);
});
