import { connect } from 'node:net';
import { ErrorBody } from '@relaykit/contracts';
import { expect } from 'vitest';
import {
  Bystander,
  SseStream,
  WsClient,
  brokerMode,
  expectHttpError,
  metricUntil,
  metrics,
  needsCmd,
  ownServer,
  poll,
  publish,
  serverLimits,
  sleep,
  stopOwnServers,
  topicUrl,
  uniqueTopic,
  WAIT_MS,
} from '../harness/index.ts';
import { defineArea } from '../case.ts';

const area = defineArea('limits');

area.afterAll(stopOwnServers);

/** A publish frame padded so that its JSON text is exactly `bytes` long (ASCII). */
function frameOfSize(bytes: number, topic: string, ref: string): string {
  const base = JSON.stringify({ type: 'publish', topic, event: { type: 'pad', data: '' }, ref });
  return base.replace('"data":""', `"data":"${'x'.repeat(bytes - base.length)}"`);
}

/** One raw HTTP/1.1 exchange over node:net, read until the server closes or the body is complete. */
async function rawRequest(base: string, request: string): Promise<{ head: string; body: string }> {
  const { hostname, port } = new URL(base);
  const socket = connect(Number(port), hostname);
  socket.write(request);
  let data = '';
  socket.setEncoding('utf8');
  await new Promise<void>((resolve) => {
    const check = () => {
      const at = data.indexOf('\r\n\r\n');
      if (at < 0) return;
      const length = /content-length: *(\d+)/i.exec(data.slice(0, at));
      if (length && Buffer.byteLength(data.slice(at + 4)) >= Number(length[1])) resolve();
    };
    socket.on('data', (chunk: string) => {
      data += chunk;
      check();
    });
    socket.on('close', () => resolve());
    socket.on('error', () => resolve());
    setTimeout(resolve, WAIT_MS);
  });
  socket.destroy();
  const at = data.indexOf('\r\n\r\n');
  return { head: data.slice(0, at), body: data.slice(at + 4) };
}

area.describe('limits', [
  {
    id: 'LIM-001',
    level: 'MUST',
    section: '11',
    title: 'accept a WebSocket frame of exactly MAX_MESSAGE_BYTES',
    run: async () => {
      const { maxMessageBytes } = await serverLimits();
      const topic = uniqueTopic('exact');
      const ws = await WsClient.connect();
      await ws.subscribe([topic]);
      const frame = frameOfSize(maxMessageBytes, topic, 'exact');
      expect(Buffer.byteLength(frame)).toBe(maxMessageBytes);
      ws.send(frame);
      expect(await ws.next('ack')).toMatchObject({ ref: 'exact' });
      await ws.waitEvents(1);
      expect(ws.isOpen).toBe(true);
      await ws.close();
    },
  },

  {
    id: 'LIM-002',
    level: 'MUST',
    section: '11',
    title: 'accept an HTTP body of exactly MAX_MESSAGE_BYTES and refuse one byte more with 413',
    run: async () => {
      const { maxMessageBytes } = await serverLimits();
      const topic = uniqueTopic('exacthttp');
      const body = (n: number) => {
        const base = JSON.stringify({ type: 'pad', data: '' });
        return base.replace('"data":""', `"data":"${'é'.repeat(0)}${'x'.repeat(n - base.length)}"`);
      };
      const ok = await fetch(topicUrl(topic), { method: 'POST', body: body(maxMessageBytes) });
      expect(ok.status).toBe(201);
      await expectHttpError(fetch(topicUrl(topic), { method: 'POST', body: body(maxMessageBytes + 1) }), 413, 'message_too_large');
    },
  },

  {
    id: 'LIM-003',
    level: 'MUST',
    section: '11',
    title: 'count MAX_MESSAGE_BYTES in UTF-8 bytes, not characters (multi-byte frame over the limit closes with 1009)',
    run: async () => {
      const { maxMessageBytes } = await serverLimits();
      const ws = await WsClient.connect();
      // Fewer characters than the limit, more bytes: 3 bytes per character.
      ws.send(JSON.stringify({ type: 'ping', ref: '€'.repeat(Math.ceil(maxMessageBytes / 2.5)) }));
      expect((await ws.closed).code).toBe(1009);
    },
  },

  {
    id: 'LIM-004',
    level: 'MUST',
    section: '11',
    title: 'close a WebSocket whose unsent data outgrows MAX_BUFFERED_BYTES (4008, slow consumer) and keep serving others',
    run: async (ctx) => {
      needsCmd(ctx);
      const server = await ownServer({ MAX_BUFFERED_BYTES: '65536', MAX_MESSAGE_BYTES: '65536' });
      const topic = uniqueTopic('slow');
      const slow = await WsClient.connect(server.url);
      await slow.subscribe([topic]);
      const healthy = await WsClient.connect(server.url);
      await healthy.subscribe([topic]);
      // Stop reading: the server's writes back up in the socket and then in its own buffer.
      const socket = (slow.ws as unknown as { _socket: import('node:net').Socket })._socket;
      socket.pause();
      const publisher = await WsClient.connect(server.url);
      const payload = 'x'.repeat(60_000);
      let closes = 0;
      let sent = 0;
      for (let round = 0; round < 200 && closes === 0; round++) {
        for (let i = 0; i < 10; i++) publisher.send({ type: 'publish', topic, event: { type: 'big', data: payload }, ref: ++sent });
        await publisher.frames.until((f) => f.filter((x) => x.type === 'ack').length >= sent, 'acks', 30_000);
        await healthy.waitEvents(sent);
        closes = (await metrics(server.url)).get('relaykit_slow_consumer_closes_total') ?? 0;
      }
      expect(closes, 'the server closed the slow consumer').toBe(1);
      socket.resume();
      expect((await slow.closed).code).toBe(4008);
      // The healthy subscriber got every event, in order.
      expect(healthy.events().map((e) => e.type)).toHaveLength(sent);
      const after = await publish(topic, 'after', 1, undefined, server.url);
      const events = await healthy.waitEvents(sent + 1);
      expect(events[sent]!.id).toBe(after.body.id);
      await Promise.all([healthy.close(), publisher.close()]);
      await server.stop();
    },
    timeoutMs: 90_000,
  },

  {
    id: 'LIM-008',
    level: 'MUST',
    section: '11',
    title: 'end an SSE stream whose unsent data outgrows MAX_BUFFERED_BYTES (raw socket that stops reading)',
    run: async (ctx) => {
      needsCmd(ctx);
      await slowSseStream();
    },
    timeoutMs: 90_000,
  },

  {
    id: 'LIM-013',
    level: 'MUST',
    section: '3',
    title: 'send event: error {"code":"slow_consumer"} as the last thing of an SSE stream it ends as a slow consumer',
    run: async (ctx) => {
      needsCmd(ctx);
      const tail = await slowSseStream();
      // The chunked body's last data chunk holds the error event; nothing follows it but the end.
      const end = 'event: error\ndata: {"code":"slow_consumer"}\n\n';
      expect(tail, 'the end of the stream').toContain(end);
      expect(tail.slice(tail.lastIndexOf(end) + end.length)).toMatch(/^(\r\n0\r\n\r\n)?$/);
    },
    timeoutMs: 90_000,
  },

  {
    id: 'LIM-005',
    level: 'MUST',
    section: '11',
    title: 'refuse connections over MAX_CONNECTIONS with 503 too_many_connections',
    run: async (ctx) => {
      needsCmd(ctx);
      const server = await ownServer({ MAX_CONNECTIONS: '2' });
      const a = await WsClient.connect(server.url);
      const b = await WsClient.connect(server.url);
      await expectHttpError(fetch(`${server.url}/v1/events?topic=x`), 503, 'too_many_connections');
      await expect(WsClient.connect(server.url)).rejects.toThrow(/503/);
      // The refused upgrade carries the same JSON error body as every other endpoint.
      const refused = await rawRequest(server.url, `GET /v1/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
      expect(refused.head).toMatch(/^HTTP\/1\.1 503/);
      expect(ErrorBody.parse(JSON.parse(refused.body)).error.code).toBe('too_many_connections');
      await a.close();
      // Freed: a new connection is admitted again.
      const c = await WsClient.connect(server.url);
      await Promise.all([b.close(), c.close()]);
      await server.stop();
    },
  },

  {
    id: 'LIM-006',
    level: 'MUST',
    section: '11',
    title: 'apply small configured limits (MAX_TOPICS_PER_CONNECTION=2, MAX_MESSAGE_BYTES=512) and report them in welcome',
    run: async (ctx) => {
      needsCmd(ctx);
      const server = await ownServer({ MAX_TOPICS_PER_CONNECTION: '2', MAX_MESSAGE_BYTES: '512', HISTORY_SIZE: '3' });
      const ws = await WsClient.connect(server.url);
      expect(ws.welcome).toMatchObject({ maxTopics: 2, maxMessageBytes: 512, historySize: 3 });
      await ws.subscribe(['a', 'b']);
      ws.send({ type: 'subscribe', topics: ['c'], ref: 'c' });
      expect(await ws.next('error')).toMatchObject({ code: 'too_many_topics', ref: 'c' });
      ws.send({ type: 'unsubscribe', topics: ['a'] });
      await ws.next('unsubscribed');
      await ws.subscribe(['c']);
      await expectHttpError(
        fetch(topicUrl('a', server.url), { method: 'POST', body: JSON.stringify({ type: 't', data: 'x'.repeat(600) }) }),
        413,
        'message_too_large',
      );
      ws.send(JSON.stringify({ type: 'ping', ref: 'x'.repeat(600) }));
      expect((await ws.closed).code).toBe(1009);
      await server.stop();
    },
  },

  {
    id: 'LIM-007',
    level: 'MUST',
    section: '11',
    title: 'keep serving a bystander while limits are hit',
    run: async () => {
      const bystander = await Bystander.start();
      const { maxTopics } = await serverLimits();
      const ws = await WsClient.connect();
      ws.send({ type: 'subscribe', topics: Array.from({ length: maxTopics + 5 }, (_, i) => `cf.lim.${i}`), ref: 1 });
      await ws.next('error');
      await bystander.check();
      await ws.close();
      await bystander.close();
    },
  },

  {
    id: 'LIM-009',
    level: 'MUST',
    section: '11',
    title: 'count held long polls against MAX_CONNECTIONS (503 too_many_connections for SSE, WebSocket and polls), and admit again once one ends',
    run: async (ctx) => {
      needsCmd(ctx);
      const server = await ownServer({ MAX_CONNECTIONS: '2' });
      const [first, second] = [uniqueTopic('held1'), uniqueTopic('held2')];
      const abort = new AbortController();
      const held = [first, second].map((topic) => poll(topic, { wait: 20 }, server.url, abort.signal));
      await metricUntil('relaykit_connections{transport="poll"}', (n) => n === 2, 'two held polls', server.url);
      await expectHttpError(refused(`${server.url}/v1/events?topic=x`), 503, 'too_many_connections');
      await expect(WsClient.connect(server.url)).rejects.toThrow(/503/);
      await expectHttpError(refused(`${topicUrl('x', server.url)}?wait=5`), 503, 'too_many_connections');
      // Publishing, health and metrics are not connections: they still answer.
      await healthyOwn(server.url);
      // One poll ends (its event arrives): a new poll is admitted and held.
      const { body } = await publish(first, 'wake', 1, undefined, server.url);
      expect((await held[0]!).events.map((e) => e.id)).toEqual([body.id]);
      await metricUntil('relaykit_connections{transport="poll"}', (n) => n === 1, 'the answered poll to be released', server.url);
      const third = poll(uniqueTopic('held3'), { wait: 1 }, server.url);
      expect((await third).events).toEqual([]);
      abort.abort();
      await Promise.allSettled(held);
      await server.stop();
    },
  },

  {
    id: 'LIM-010',
    level: 'MUST',
    section: '11',
    title: 'bound the topic histories by MAX_HISTORIES (in memory mode unheld ones first), with a reset only for resumes from before a dropped history\'s last id',
    run: async (ctx) => {
      needsCmd(ctx);
      const server = await ownServer({ MAX_HISTORIES: '3', HISTORY_SIZE: '5' });
      const url = server.url;
      const watcher = await WsClient.connect(url);
      const start = watcher.welcome.position;
      await watcher.close();
      const [a, b, c, d, never] = ['a', 'b', 'c', 'd', 'never'].map((t) => uniqueTopic(`h${t}`)) as [string, string, string, string, string];
      const ids: Record<string, string> = {};
      for (const topic of [a, b, c, d]) ids[topic] = (await publish(topic, 'e', topic, undefined, url)).body.id;
      const m = await metrics(url);
      expect(m.get('relaykit_histories'), 'histories held').toBeLessThanOrEqual(3);
      expect(m.get('relaykit_histories')).toBeGreaterThan(0);
      // On Redis the histories are Redis's: this process holds no bytes of them.
      if (brokerMode() === 'memory') expect(m.get('relaykit_history_bytes'), 'the bytes gauge').toBeGreaterThan(0);
      // a went first (least recently published, unheld): a resume from before its event is reset...
      const stale = await poll(a, { after: start, wait: 0 }, url);
      expect(stale.reset, 'a resume into the dropped history of a').toEqual({ code: 'history_unavailable', topics: [a] });
      // ...one from its last id, or later, is not: nothing was lost.
      for (const after of [ids[a]!, ids[d]!]) {
        const fine = await poll(a, { after, wait: 0 }, url);
        expect(fine.reset, `a resume of a from ${after}`).toBeUndefined();
        expect(fine.events).toEqual([]);
      }
      // A topic that never had an event is not reset.
      expect((await poll(never, { after: start, wait: 0 }, url)).reset).toBeUndefined();
      // A held history outlives unheld ones: b is subscribed, then three new topics are published.
      const holder = await WsClient.connect(url);
      await holder.subscribe([b]);
      for (const topic of ['e', 'f', 'g'].map((t) => uniqueTopic(`h${t}`))) await publish(topic, 'e', topic, undefined, url);
      expect((await metrics(url)).get('relaykit_histories')).toBeLessThanOrEqual(3);
      // In memory mode a held history outlives unheld ones; on Redis, streams go by last publish
      // across the cluster, where no process's holders count (PROTOCOL.md §1).
      if (brokerMode() === 'memory') {
        const kept = await poll(b, { after: start, wait: 0 }, url);
        expect(kept.reset, 'the held history of b was kept').toBeUndefined();
        expect(kept.events.map((e) => e.id)).toEqual([ids[b]]);
      }
      // Its subscriber still gets live events.
      const live = await publish(b, 'live', 1, undefined, url);
      expect((await holder.waitEvents(1)).map((e) => e.id)).toEqual([live.body.id]);
      expect((await poll(c, { after: start, wait: 0 }, url)).reset, 'c was dropped before the held b').toEqual({ code: 'history_unavailable', topics: [c] });
      await holder.close();
      await server.stop();
    },
  },

  {
    id: 'LIM-011',
    level: 'MUST',
    section: '11',
    title: 'bound the bytes all histories hold by HISTORY_MAX_BYTES, reset resumes from before dropped events, and keep the newest event replayable',
    run: async (ctx) => {
      needsCmd(ctx);
      if (brokerMode() === 'redis') ctx.skip('HISTORY_MAX_BYTES bounds in-memory histories; on Redis, MAX_HISTORIES and HISTORY_TTL_MS bound the streams (PROTOCOL.md §1)');
      const server = await ownServer({ HISTORY_MAX_BYTES: '65536', MAX_MESSAGE_BYTES: '16384' });
      const url = server.url;
      const watcher = await WsClient.connect(url);
      const start = watcher.welcome.position;
      await watcher.close();
      const topics = [0, 1, 2, 3].map((i) => uniqueTopic(`bytes${i}`));
      const sent: Array<{ topic: string; id: string }> = [];
      for (let i = 0; i < 20; i++) {
        const topic = topics[i % 4]!;
        sent.push({ topic, id: (await publish(topic, 'big', { i, pad: 'z'.repeat(10_000) }, undefined, url)).body.id });
      }
      const m = await metrics(url);
      expect(m.get('relaykit_history_bytes'), 'history bytes').toBeLessThanOrEqual(65_536);
      expect(m.get('relaykit_history_bytes')).toBeGreaterThan(0);
      // What every topic still holds, read back from the start: within the bound, and a reset where events are gone.
      let held = 0;
      let replayable = 0;
      for (const topic of topics) {
        const answer = await poll(topic, { after: start, wait: 0 }, url);
        held += answer.events.reduce((n, e) => n + Buffer.byteLength(JSON.stringify(e)), 0);
        replayable += answer.events.length;
        const mine = sent.filter((s) => s.topic === topic).map((s) => s.id);
        if (answer.events.length < mine.length) {
          expect(answer.reset, `a resume of ${topic} from before its dropped events`).toEqual({ code: 'history_unavailable', topics: [topic] });
        }
        // Whatever is held is the newest of the topic, in order.
        expect(answer.events.map((e) => e.id)).toEqual(mine.slice(mine.length - answer.events.length));
      }
      expect(held, 'envelope bytes held').toBeLessThanOrEqual(65_536);
      expect(replayable, 'events were dropped').toBeLessThan(20);
      // The first topic lost its first event: SSE says so too.
      const sse = await SseStream.open([topics[0]!], { lastEventId: start, base: url });
      await sse.items.until((items) => items.some((i) => i.kind === 'event'), 'the reset');
      expect(sse.events()[0]).toMatchObject({ event: 'reset' });
      await sse.close();
      // The newest event is replayable from the id before it.
      const newest = sent[19]!;
      const before = await poll(newest.topic, { after: sent[15]!.id, wait: 0 }, url);
      expect(before.reset).toBeUndefined();
      expect(before.events.map((e) => e.id)).toEqual([newest.id]);
      await server.stop();
    },
  },

  {
    id: 'LIM-012',
    level: 'SHOULD',
    section: '11',
    title: 'drop a history after HISTORY_TTL_MS without a publish (a resume from before then gets reset), in memory mode only once no connection holds it',
    run: async (ctx) => {
      needsCmd(ctx);
      const TTL_MS = 1000;
      const server = await ownServer({ HISTORY_TTL_MS: String(TTL_MS) });
      const url = server.url;
      const [idle, heldTopic] = [uniqueTopic('idle'), uniqueTopic('heldttl')];
      const holder = await WsClient.connect(url);
      const start = holder.welcome.position;
      await holder.subscribe([heldTopic]);
      await publish(idle, 'e', 1, undefined, url);
      const kept = (await publish(heldTopic, 'e', 2, undefined, url)).body.id;
      if (brokerMode() === 'redis') {
        // Redis expires a stream by its last publish, held or not (PROTOCOL.md §1).
        await sleep(2 * TTL_MS + 500);
        for (const topic of [idle, heldTopic]) {
          expect((await poll(topic, { after: start, wait: 0 }, url)).reset, `${topic} expired`).toEqual({ code: 'history_unavailable', topics: [topic] });
        }
        await holder.close();
        await server.stop();
        return;
      }
      expect((await metrics(url)).get('relaykit_histories')).toBe(2);
      // This case waits on the clock by nature: more than twice the TTL, then the gauge must show the drop.
      await sleep(2 * TTL_MS + 500);
      await metricUntil('relaykit_histories', (n) => n === 1, 'the idle history to be dropped', url, 5000);
      const stale = await poll(idle, { after: start, wait: 0 }, url);
      expect(stale.reset).toEqual({ code: 'history_unavailable', topics: [idle] });
      const held = await poll(heldTopic, { after: start, wait: 0 }, url);
      expect(held.reset, 'the held history is kept').toBeUndefined();
      expect(held.events.map((e) => e.id)).toEqual([kept]);
      // Once its last holder leaves, it ages out too.
      await holder.close();
      await sleep(2 * TTL_MS + 500);
      await metricUntil('relaykit_histories', (n) => n === 0, 'every history to be dropped', url, 5000);
      await server.stop();
    },
  },
]);

async function healthyOwn(url: string): Promise<void> {
  expect((await fetch(`${url}/healthz`)).status).toBe(200);
  expect((await fetch(`${url}/metrics`)).status).toBe(200);
  expect((await publish(uniqueTopic('free'), 'e', 1, undefined, url)).status).toBe(201);
}

/** A request expected to be refused: one that is admitted instead (a stream, a held poll) fails at once, not by hanging. */
async function refused(url: string): Promise<Response> {
  const response = await fetch(url, { signal: AbortSignal.timeout(WAIT_MS) });
  if (response.status !== 503) {
    await response.body?.cancel().catch(() => {});
    expect(response.status, `${url} is refused while two polls are held`).toBe(503);
  }
  return response;
}

/**
 * LIM-008's raw SSE stream that stops reading while 60 KB events are published, until the server
 * ends it as a slow consumer; then it reads to the end. Returns the last 4 KB of the raw response.
 */
async function slowSseStream(): Promise<string> {
  const server = await ownServer({ MAX_BUFFERED_BYTES: '65536', MAX_MESSAGE_BYTES: '65536' });
  const topic = uniqueTopic('slowsse');
  const { hostname, port } = new URL(server.url);
  const socket = connect(Number(port), hostname);
  socket.write(`GET /v1/events?topic=${topic} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n`);
  let head = '';
  await new Promise<void>((resolve) => {
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1');
      if (head.includes('relaykit stream open') || head.includes(': ')) {
        socket.off('data', onData);
        resolve();
      }
    };
    socket.on('data', onData);
  });
  expect(head).toMatch(/^HTTP\/1\.1 200/);
  expect(head).not.toMatch(/^content-length:/im);
  socket.pause();
  // The response ends: the last chunk of a chunked body, or the connection closing.
  let tail = '';
  const ended = new Promise<void>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      tail = (tail + chunk.toString('latin1')).slice(-4096);
      if (tail.endsWith('\r\n0\r\n\r\n')) resolve();
    });
    socket.on('end', resolve);
    socket.on('close', () => resolve());
  });
  const bystander = await WsClient.connect(server.url);
  await bystander.subscribe([topic]);
  const publisher = await WsClient.connect(server.url);
  const payload = 'y'.repeat(60_000);
  let closes = 0;
  let sent = 0;
  for (let round = 0; round < 200 && closes === 0; round++) {
    for (let i = 0; i < 10; i++) publisher.send({ type: 'publish', topic, event: { type: 'big', data: payload }, ref: ++sent });
    await publisher.frames.until((f) => f.filter((x) => x.type === 'ack').length >= sent, 'acks', 30_000);
    await bystander.waitEvents(sent);
    closes = (await metrics(server.url)).get('relaykit_slow_consumer_closes_total') ?? 0;
  }
  expect(closes, 'the server ended the slow SSE stream').toBe(1);
  socket.resume();
  await ended;
  const m = await metrics(server.url);
  expect(m.get('relaykit_connections{transport="sse"}')).toBe(0);
  await Promise.all([bystander.close(), publisher.close()]);
  await server.stop();
  return tail;
}

export default area;
