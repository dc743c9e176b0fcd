/**
 * The smoke test every app runs from its own runtime's test runner (node --test, bun test, deno
 * test): a quick look at each transport once, with the runtime's own fetch and WebSocket, ending
 * with every gauge back at 0. The conformance suite is the real proof; this is what a runtime's
 * test runner can run in a few seconds against a server started with `spawnServer` and SMOKE_ENV.
 * Exported as `@relaykit/conformance/smoke`; no test-runner API and no dependency beyond
 * node:assert, so Node (type stripping), Bun and Deno import it as it is.
 */
import assert from 'node:assert/strict';

/** The config the smoke server is started with (the checks rely on these numbers). */
export const SMOKE_ENV: Readonly<Record<string, string>> = {
  HEARTBEAT_MS: '300',
  MAX_MESSAGE_BYTES: '1024',
  HISTORY_SIZE: '3',
};

export interface SmokeCheck {
  name: string;
  run(): Promise<void>;
}

/** Frames are read loosely here; the conformance suite validates them. */
type Json = any;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The checks, in order, against the server at `url` (a function when the server starts in a
 * before-hook), which must say it is `runtime` and run with SMOKE_ENV. Each runner registers every
 * check as one test: `for (const c of smoke(() => server.url, 'node')) test(c.name, c.run)`.
 */
export function smoke(url: string | (() => string), runtime: string): SmokeCheck[] {
  const base = () => (typeof url === 'string' ? url : url());

  const publish = (topic: string, data: unknown) =>
    fetch(`${base()}/v1/topics/${topic}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'note', data }),
    }).then((r) => r.json() as Promise<{ id: string }>);

  async function gauges(): Promise<Record<string, number>> {
    const text = await (await fetch(`${base()}/metrics`)).text();
    const out: Record<string, number> = {};
    for (const m of text.matchAll(/^relaykit_(connections\{transport="(\w+)"\}|topics) (\d+)$/gm)) out[m[2] ?? 'topics'] = Number(m[3]);
    return out;
  }

  async function gaugesUntil(want: Record<string, number>, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let have = await gauges();
    while (JSON.stringify(have) !== JSON.stringify(want) && Date.now() < deadline) {
      await sleep(50);
      have = await gauges();
    }
    assert.deepEqual(have, want);
  }

  function openWs(): Promise<{ ws: WebSocket; next: (type: string) => Promise<Json>; closed: Promise<number> }> {
    const ws = new WebSocket(`${base().replace('http', 'ws')}/v1/ws`);
    const frames: Json[] = [];
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
    return new Promise((resolve, reject) => {
      ws.onopen = () => resolve({ ws, next, closed });
      ws.onerror = () => reject(new Error(`WebSocket to ${base()} failed`));
    });
  }

  return [
    {
      name: 'health names the runtime',
      async run() {
        const body: Json = await (await fetch(`${base()}/healthz`)).json();
        assert.equal(body.status, 'ok');
        assert.equal(body.server, runtime);
      },
    },
    {
      name: 'WebSocket: welcome, subscribe, publish/ack, event, pong, errors, reset',
      async run() {
        const c = await openWs();
        const welcome = await c.next('welcome');
        assert.equal(welcome.server, runtime);
        assert.equal(welcome.maxMessageBytes, Number(SMOKE_ENV.MAX_MESSAGE_BYTES));
        c.ws.send(JSON.stringify({ type: 'subscribe', topics: ['w1'], ref: 1 }));
        const subscribed = await c.next('subscribed');
        assert.deepEqual([subscribed.topics, subscribed.ref], [['w1'], 1]);
        c.ws.send(JSON.stringify({ type: 'publish', topic: 'w1', event: { type: 't', data: 1 }, ref: 'p' }));
        const ack = await c.next('ack');
        assert.equal((await c.next('event')).event.id, ack.id);
        c.ws.send(JSON.stringify({ type: 'ping', ref: 7 }));
        assert.deepEqual(await c.next('pong'), { type: 'pong', ref: 7 });
        c.ws.send('nope');
        assert.equal((await c.next('error')).code, 'bad_json');
        c.ws.send(new Uint8Array([1]));
        assert.equal((await c.next('error')).code, 'binary_not_supported');
        for (let i = 0; i < 5; i++) await publish('w2', i);
        c.ws.send(JSON.stringify({ type: 'subscribe', topics: ['w2'], lastEventId: ack.id }));
        const reset = await c.next('reset');
        assert.deepEqual([reset.code, reset.topics], ['history_unavailable', ['w2']]);
        c.ws.close();
        await c.closed;
      },
    },
    {
      name: 'WebSocket: heartbeat keeps a quiet socket open; an oversize frame closes with 1009',
      async run() {
        const c = await openWs();
        await sleep(1000); // > 3 heartbeats: the runtime's client answers pings
        assert.equal(c.ws.readyState, WebSocket.OPEN);
        c.ws.send('x'.repeat(2000));
        assert.equal(await c.closed, 1009);
      },
    },
    {
      name: 'SSE: preamble, resume, live event, keepalive',
      async run() {
        const { id } = await publish('s1', 'a');
        const ctl = new AbortController();
        const res = await fetch(`${base()}/v1/events?topic=s1`, { headers: { 'last-event-id': id }, signal: ctl.signal });
        assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
        const reader = res.body!.getReader();
        const decoder = new TextDecoder();
        let text = '';
        const read = async (what: string) => {
          while (!text.includes(what)) {
            const { value, done } = await reader.read();
            if (done) assert.fail(`the stream ended before ${JSON.stringify(what)}: ${text}`);
            text += decoder.decode(value, { stream: true });
          }
        };
        await read('retry:');
        const second = await publish('s1', 'b');
        await read(`id: ${second.id}`);
        assert.ok(!text.includes(`id: ${id}\n`), 'the resumed-from event is not replayed');
        await read(': keepalive');
        assert.equal((await gauges()).sse, 1);
        ctl.abort();
        await reader.cancel().catch(() => {});
        await gaugesUntil({ sse: 0, ws: 0, poll: 0, topics: 0 });
      },
    },
    {
      name: 'long polling answers with the next event',
      async run() {
        const first = await publish('p1', 1);
        const pending = fetch(`${base()}/v1/topics/p1/events?after=${first.id}&wait=5`).then((r) => r.json() as Promise<Json>);
        await sleep(100);
        const second = await publish('p1', 2);
        const answer = await pending;
        assert.deepEqual(
          answer.events.map((e: Json) => e.id),
          [second.id],
        );
        assert.equal(answer.cursor, second.id);
      },
    },
    {
      name: 'errors are JSON on every path',
      async run() {
        const res = await fetch(`${base()}/v1/nowhere`);
        assert.equal(res.status, 404);
        assert.equal(((await res.json()) as Json).error.code, 'not_found');
        const noTopic = await fetch(`${base()}/v1/events`);
        assert.equal(noTopic.status, 400);
        await noTopic.body?.cancel();
        const noUpgrade = await fetch(`${base()}/v1/ws`);
        assert.equal(noUpgrade.status, 400);
        await noUpgrade.body?.cancel();
      },
    },
    {
      name: 'every gauge is back at 0',
      async run() {
        await gaugesUntil({ sse: 0, ws: 0, poll: 0, topics: 0 });
      },
    },
  ];
}
