import { once } from 'node:events';
import { connect } from 'node:net';
import { ResetSignal } from '@relaykit/contracts';
import { EventSource, type FetchLikeResponse } from 'eventsource';
import { type EventSourceMessage, createParser } from 'eventsource-parser';
import { expect } from 'vitest';
import {
  ChunkedDecoder,
  Collector,
  SseStream,
  WAIT_MS,
  WsClient,
  baseUrl,
  brokerMode,
  metrics,
  needsCmd,
  ownServer,
  poll,
  publish,
  publishMany,
  requestHead,
  serverLimits,
  sleep,
  socketOf,
  stopOwnServers,
  uniqueTopic,
} from '../harness/index.ts';
import { defineArea } from '../case.ts';

const area = defineArea('resume');

area.afterAll(stopOwnServers);

/** The first SSE event after the preamble, and everything in order. */
function sseSequence(stream: SseStream): Array<{ id: string | undefined; event: string | undefined; data: unknown }> {
  return stream.events().map((e) => ({ id: e.id, event: e.event, data: JSON.parse(e.data) }));
}

/**
 * A fetch for the eventsource client that ends the first response after `blocks` SSE blocks with an
 * `id:` field, as a network drop would; later connections pass through. `onRequest` sees each request.
 */
function cutAfter(blocks: number, onRequest: (headers: Headers) => void) {
  let calls = 0;
  return async (url: string | URL, init: RequestInit): Promise<FetchLikeResponse> => {
    onRequest(new Headers(init.headers));
    const response = await fetch(url, init);
    if (++calls > 1 || !response.body) return response as unknown as FetchLikeResponse;
    let seen = 0;
    let tail = '';
    const decoder = new TextDecoder();
    const cut = response.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          if (seen >= blocks) return;
          const parts = (tail + decoder.decode(chunk, { stream: true })).split('\n\n');
          tail = parts.pop() ?? '';
          let out = '';
          for (const part of parts) {
            if (seen >= blocks) break;
            out += `${part}\n\n`;
            if (/^data:/m.test(part)) seen++; // count dispatched events, not bare id: lines
          }
          controller.enqueue(new TextEncoder().encode(out));
          if (seen >= blocks) controller.terminate();
        },
      }),
    );
    return new Response(cut, { status: response.status, headers: response.headers }) as unknown as FetchLikeResponse;
  };
}

area.describe('resume and reset', [
  {
    id: 'RES-001',
    level: 'MUST',
    section: '7',
    title: 'resume an SSE stream from the Last-Event-ID header, then go live without duplicates',
    run: async () => {
      const topic = uniqueTopic('hdr');
      const ids = await publishMany(topic, 5);
      const stream = await SseStream.open([topic], { lastEventId: ids[1]! });
      await stream.waitEnvelopes(3);
      const live = await publish(topic, 'live', 'x');
      const got = await stream.waitEnvelopes(4);
      expect(got.map((e) => e.id)).toEqual([...ids.slice(2), live.body.id]);
      expect(stream.events().some((e) => e.event === 'reset')).toBe(false);
      await stream.close();
    },
  },

  {
    id: 'RES-002',
    level: 'MUST',
    section: '7',
    title: 'resume an SSE stream from the lastEventId query parameter',
    run: async () => {
      const topic = uniqueTopic('query');
      const ids = await publishMany(topic, 4);
      const stream = await SseStream.open([topic], { query: { lastEventId: ids[0]! } });
      const got = await stream.waitEnvelopes(3);
      expect(got.map((e) => e.id)).toEqual(ids.slice(1));
      await stream.close();
    },
  },

  {
    id: 'RES-003',
    level: 'MUST',
    section: '7',
    title: 'prefer the Last-Event-ID header over the query parameter when both are given',
    run: async () => {
      const topic = uniqueTopic('both');
      const ids = await publishMany(topic, 5);
      const stream = await SseStream.open([topic], { lastEventId: ids[2]!, query: { lastEventId: ids[0]! } });
      await stream.waitEnvelopes(2);
      const live = await publish(topic, 'live', 'x');
      const got = await stream.waitEnvelopes(3);
      expect(got.map((e) => e.id)).toEqual([ids[3], ids[4], live.body.id]);
      await stream.close();
    },
  },

  {
    id: 'RES-004',
    level: 'MUST',
    section: '7',
    title: 'merge the replay of several topics in id order with no duplicates, then go live',
    run: async () => {
      const [a, b, c] = [uniqueTopic('ra'), uniqueTopic('rb'), uniqueTopic('rc')];
      const mark = (await publish(c, 'mark', 0)).body.id;
      const order: string[] = [];
      for (let i = 0; i < 9; i++) order.push((await publish([a, b, c][i % 3]!, 'n', i)).body.id);
      const stream = await SseStream.open([a, b, c], { lastEventId: mark });
      const ws = await WsClient.connect();
      ws.send({ type: 'subscribe', topics: [a, b, c], lastEventId: mark, ref: 'r' });
      await Promise.all([stream.waitEnvelopes(9), ws.waitEvents(9)]);
      const live = [(await publish(b, 'live', 1)).body.id, (await publish(a, 'live', 2)).body.id];
      const sse = await stream.waitEnvelopes(11);
      const viaWs = await ws.waitEvents(11);
      expect(sse.map((e) => e.id)).toEqual([...order, ...live]);
      expect(viaWs.map((e) => e.id)).toEqual([...order, ...live]);
      await Promise.all([stream.close(), ws.close()]);
    },
  },

  {
    id: 'RES-005',
    level: 'MUST',
    section: '7',
    title: 'let the eventsource client reconnect after a dropped stream and resume with no loss or duplicate',
    run: async () => {
      const topic = uniqueTopic('es');
      const seenLastEventIds: Array<string | null> = [];
      let connections = 0;
      const cuttingFetch = cutAfter(2, (headers) => {
        connections++;
        seenLastEventIds.push(headers.get('last-event-id'));
      });
      const es = new EventSource(`${baseUrl()}/v1/events?topic=${topic}`, { fetch: cuttingFetch as never });
      const got = new Collector<MessageEvent>();
      es.addEventListener('n', (e) => got.push(e));
      await new Promise<void>((resolve, reject) => {
        es.onopen = () => resolve();
        es.onerror = () => reject(new Error('EventSource failed to open'));
      });
      const ids: string[] = [];
      for (let i = 0; i < 2; i++) ids.push((await publish(topic, 'n', i)).body.id);
      await got.until(() => connections >= 2, 'the client to reconnect', 20_000);
      for (let i = 2; i < 5; i++) ids.push((await publish(topic, 'n', i)).body.id);
      await got.until((items) => items.length >= 5, 'five events through the eventsource client', 20_000);
      es.close();
      expect(got.items.map((e) => e.lastEventId)).toEqual(ids);
      expect(got.items.map((e) => JSON.parse(e.data as string).data)).toEqual([0, 1, 2, 3, 4]);
      expect(seenLastEventIds[0]).toBeNull();
      expect(seenLastEventIds[1], 'the reconnect carries Last-Event-ID').toBe(ids[1]);
    },
    timeoutMs: 60_000,
  },

  {
    id: 'RES-006',
    level: 'MUST',
    section: '7',
    title: 'signal reset on SSE when the id is older than HISTORY_SIZE: event reset, id = position, before the held events',
    run: async () => {
      const { historySize } = await serverLimits();
      const topic = uniqueTopic('old');
      const ids = await publishMany(topic, historySize + 3);
      const position = ids[ids.length - 1]!;
      const stream = await SseStream.open([topic], { lastEventId: ids[0]! });
      await stream.waitEnvelopes(historySize);
      const seq = sseSequence(stream);
      expect(seq[0]).toEqual({ id: position, event: 'reset', data: { code: 'history_unavailable', topics: [topic] } });
      ResetSignal.parse(seq[0]!.data);
      expect(stream.envelopes().map((e) => e.id)).toEqual(ids.slice(-historySize));
      await stream.close();
    },
    timeoutMs: 60_000,
  },

  {
    id: 'RES-007',
    level: 'MUST',
    section: '7',
    title: 'signal reset for an unknown or garbage id on SSE, WebSocket and polling, then replay what is held',
    run: async () => {
      const topic = uniqueTopic('garbage');
      const ids = await publishMany(topic, 3);
      for (const bad of ['garbage', 'zzzzzzzz-1', '0-0', `${ids[0]!.split('-')[0]}-999999999`, '../../etc']) {
        const stream = await SseStream.open([topic], { lastEventId: bad });
        await stream.waitEnvelopes(3);
        const seq = sseSequence(stream);
        expect(seq[0]?.event, `reset first for ${bad}`).toBe('reset');
        expect(seq[0]?.data).toEqual({ code: 'history_unavailable', topics: [topic] });
        expect(stream.envelopes().map((e) => e.id)).toEqual(ids);
        await stream.close();

        const answer = await poll(topic, { after: bad, wait: 0 });
        expect(answer.reset).toEqual({ code: 'history_unavailable', topics: [topic] });
        expect(answer.events.map((e) => e.id)).toEqual(ids);
        expect(answer.cursor).toBe(ids[2]);
      }
      const ws = await WsClient.connect();
      ws.send({ type: 'subscribe', topics: [topic], lastEventId: 'garbage', ref: 1 });
      await ws.waitEvents(3);
      const kinds = ws.frames.items.map((f) => f.type);
      expect(kinds.slice(0, 3)).toEqual(['welcome', 'subscribed', 'reset']);
      expect(ws.all('reset')[0]).toMatchObject({ code: 'history_unavailable', topics: [topic] });
      expect(ws.events().map((e) => e.id)).toEqual(ids);
      await ws.close();
    },
  },

  {
    id: 'RES-008',
    level: 'MUST',
    section: '7',
    title: 'send the WebSocket reset after `subscribed` and before the replayed events, with the position',
    run: async () => {
      const { historySize } = await serverLimits();
      const [topic, fresh] = [uniqueTopic('wsold'), uniqueTopic('wsfresh')];
      const ids = await publishMany(topic, historySize + 2);
      const ws = await WsClient.connect();
      ws.send({ type: 'subscribe', topics: [topic, fresh], lastEventId: ids[0], ref: 'x' });
      await ws.waitEvents(historySize);
      const frames = ws.frames.items;
      expect(frames.map((f) => f.type).slice(0, 3)).toEqual(['welcome', 'subscribed', 'reset']);
      expect(frames[2]).toEqual({ type: 'reset', code: 'history_unavailable', topics: [topic], position: ids[ids.length - 1] });
      expect(ws.events().map((e) => e.id)).toEqual(ids.slice(-historySize));
      await ws.close();
      ws.expectAllValid();
    },
    timeoutMs: 60_000,
  },

  {
    id: 'RES-009',
    level: 'MUST',
    section: '7',
    title: 'put `reset` in a poll answer whose `after` is too old, with the held events and a usable cursor',
    run: async () => {
      const { historySize } = await serverLimits();
      const topic = uniqueTopic('pold');
      const ids = await publishMany(topic, historySize + 2);
      const answer = await poll(topic, { after: ids[0], wait: 5 });
      expect(answer.reset).toEqual({ code: 'history_unavailable', topics: [topic] });
      expect(answer.events.map((e) => e.id)).toEqual(ids.slice(-historySize));
      expect(answer.cursor).toBe(ids[ids.length - 1]);
      const next = await poll(topic, { after: answer.cursor, wait: 0 });
      expect(next.reset).toBeUndefined();
      expect(next.events).toEqual([]);
    },
    timeoutMs: 60_000,
  },

  {
    id: 'RES-010',
    level: 'MUST',
    section: '7',
    title: 'NOT signal reset when resuming from the newest id, nor from an id still held',
    run: async () => {
      const topic = uniqueTopic('fine');
      const ids = await publishMany(topic, 3);
      const stream = await SseStream.open([topic], { lastEventId: ids[2]! });
      const ws = await WsClient.connect();
      await ws.subscribe([topic], { lastEventId: ids[1] });
      const live = await publish(topic, 'live', 1);
      await stream.waitEnvelopes(1);
      await ws.waitEvents(2);
      expect(stream.envelopes().map((e) => e.id)).toEqual([live.body.id]);
      expect(ws.events().map((e) => e.id)).toEqual([ids[2], live.body.id]);
      expect(stream.events().some((e) => e.event === 'reset')).toBe(false);
      expect(ws.all('reset')).toEqual([]);
      const answer = await poll(topic, { after: ids[2], wait: 0 });
      expect(answer.reset).toBeUndefined();
      await Promise.all([stream.close(), ws.close()]);
    },
  },

  {
    id: 'RES-011',
    level: 'MUST',
    section: '7',
    title: "apply the broker lifetime's rule across a server restart: in memory, a reset for an id from before it; on Redis, ids stay valid (SSE, WebSocket, polling)",
    run: async (ctx) => {
      needsCmd(ctx);
      const topic = uniqueTopic('restart');
      // On Redis both processes are one broker: they share the Redis data (one key prefix).
      const env = { HISTORY_SIZE: '10', ...(brokerMode() === 'redis' ? { REDIS_KEY_PREFIX: `cf-restart-${topic}:` } : {}) };
      const first = await ownServer(env);
      const before = await publish(topic, 'x', 1, undefined, first.url);
      const beforeLive = await publish(topic, 'x', 2, undefined, first.url);
      expect((await first.stop()).code).toBe(0);
      const second = await ownServer(env);
      const after = await publish(topic, 'y', 3, undefined, second.url);
      if (brokerMode() === 'redis') {
        // The broker outlived the process: a resume is exact, with no reset.
        const stream = await SseStream.open([topic], { lastEventId: before.body.id, base: second.url });
        await stream.waitEnvelopes(2);
        expect(stream.events().map((e) => e.event)).not.toContain('reset');
        expect(stream.envelopes().map((e) => e.id)).toEqual([beforeLive.body.id, after.body.id]);
        await stream.close();
        const answer = await poll(topic, { after: before.body.id, wait: 0 }, second.url);
        expect(answer.reset).toBeUndefined();
        expect(answer.events.map((e) => e.id)).toEqual([beforeLive.body.id, after.body.id]);
        const ws = await WsClient.connect(second.url);
        ws.send({ type: 'subscribe', topics: [topic], lastEventId: beforeLive.body.id });
        await ws.waitEvents(1);
        expect(ws.frames.items.map((f) => f.type)).toEqual(['welcome', 'subscribed', 'event']);
        expect(ws.events().map((e) => e.id)).toEqual([after.body.id]);
        await ws.close();
        await second.stop();
        return;
      }
      for (const old of [before.body.id, beforeLive.body.id]) {
        const stream = await SseStream.open([topic], { lastEventId: old, base: second.url });
        await stream.waitEnvelopes(1);
        const seq = sseSequence(stream);
        expect(seq[0]).toEqual({ id: after.body.id, event: 'reset', data: { code: 'history_unavailable', topics: [topic] } });
        expect(stream.envelopes().map((e) => e.id)).toEqual([after.body.id]);
        await stream.close();
        const answer = await poll(topic, { after: old, wait: 0 }, second.url);
        expect(answer.reset).toEqual({ code: 'history_unavailable', topics: [topic] });
        expect(answer.events.map((e) => e.id)).toEqual([after.body.id]);
      }
      const ws = await WsClient.connect(second.url);
      ws.send({ type: 'subscribe', topics: [topic], lastEventId: beforeLive.body.id });
      await ws.waitEvents(1);
      expect(ws.frames.items.map((f) => f.type)).toEqual(['welcome', 'subscribed', 'reset', 'event']);
      await ws.close();
      await second.stop();
    },
    timeoutMs: 60_000,
  },
  {
    id: 'RES-013',
    level: 'MUST',
    section: '7',
    title: 'treat an empty Last-Event-ID or lastEventId as no resume: no reset, only live events',
    run: async () => {
      const topic = uniqueTopic('empty');
      await publish(topic, 'before', 0);
      const viaHeader = await SseStream.open([topic], { lastEventId: '' });
      const viaQuery = await SseStream.open([topic], { query: { lastEventId: '' } });
      const live = await publish(topic, 'live', 1);
      for (const stream of [viaHeader, viaQuery]) {
        await stream.waitEnvelopes(1);
        expect(stream.events().map((e) => e.id)).toEqual([live.body.id]);
        await stream.close();
      }
      const answer = await poll(topic, { after: '', wait: 0 });
      expect(answer.reset).toBeUndefined();
      expect(answer.events).toEqual([]);
    },
  },

  {
    id: 'RES-014',
    level: 'MUST',
    section: '7',
    title: 'resume from welcome.position: a client with no id loses nothing published after it connected',
    run: async () => {
      const topic = uniqueTopic('fromwelcome');
      const ws = await WsClient.connect();
      const sent = [(await publish(topic, 'a', 1)).body.id, (await publish(topic, 'b', 2)).body.id];
      await ws.subscribe([topic], { lastEventId: ws.welcome.position });
      const got = await ws.waitEvents(2);
      expect(got.map((e) => e.id)).toEqual(sent);
      expect(ws.all('reset')).toEqual([]);
      await ws.close();
    },
  },

  {
    id: 'RES-015',
    level: 'MUST',
    section: '7',
    title: 'give the eventsource client, after a reset, an id that resumes cleanly on reconnect (no second reset)',
    run: async () => {
      const topic = uniqueTopic('esreset');
      const ids = await publishMany(topic, 3);
      const lastEventIds: Array<string | null> = [];
      const es = new EventSource(`${baseUrl()}/v1/events?topic=${topic}&lastEventId=stale-garbage`, {
        // Cut after the reset and the first replayed event.
        fetch: cutAfter(2, (headers) => lastEventIds.push(headers.get('last-event-id'))) as never,
      });
      const resets = new Collector<MessageEvent>();
      const events = new Collector<MessageEvent>();
      es.addEventListener('reset', (e) => resets.push(e));
      es.addEventListener('bulk', (e) => events.push(e));
      await events.until((items) => items.length >= 3, 'the three held events', 20_000);
      await events.until(() => lastEventIds.length >= 2, 'the reconnect', 20_000);
      const live = await publish(topic, 'bulk', 'live');
      await events.until((items) => items.length >= 4, 'the live event', 20_000);
      es.close();
      expect(resets.items).toHaveLength(1);
      expect(JSON.parse(resets.items[0]!.data as string)).toEqual({ code: 'history_unavailable', topics: [topic] });
      expect(events.items.map((e) => e.lastEventId)).toEqual([...ids, live.body.id]);
      expect(lastEventIds[0]).toBeNull();
      expect(lastEventIds[1], 'the reconnect resumes from a real id, not the stale one').toBe(ids[0]);
    },
    timeoutMs: 60_000,
  },

  {
    id: 'RES-012',
    level: 'MUST',
    section: '7',
    title: 'hand over from replay to live with no gap or duplicate while events are being published',
    run: async () => {
      const topic = uniqueTopic('handover');
      const first = (await publish(topic, 'start', 0)).body.id;
      const publisher = await WsClient.connect();
      const { historySize } = await serverLimits();
      // Stay within the history so that no joiner is owed a reset.
      const total = Math.min(150, historySize - 2);
      for (let i = 1; i <= total; i++) publisher.send({ type: 'publish', topic, event: { type: 'n', data: i }, ref: i });
      // Join at several moments of the flood, over both transports.
      const joiners: Array<WsClient | SseStream> = [];
      for (let k = 0; k < 4; k++) {
        const ws = await WsClient.connect();
        ws.send({ type: 'subscribe', topics: [topic], lastEventId: first });
        joiners.push(ws, await SseStream.open([topic], { lastEventId: first }));
      }
      await publisher.frames.until((f) => f.filter((x) => x.type === 'ack').length >= total, 'all acks', 30_000);
      const ids = publisher.all('ack').map((a) => a.id);
      for (const j of joiners) {
        const events = j instanceof WsClient ? await j.waitEvents(total) : await j.waitEnvelopes(total);
        expect(events.map((e) => e.id)).toEqual(ids);
      }
      await Promise.all(joiners.map((j) => j.close()));
      await publisher.close();
    },
    timeoutMs: 60_000,
  },

  {
    id: 'RES-016',
    level: 'MUST',
    section: '7',
    title: 'pace a WebSocket replay: a client resuming a 12 MB history that does not read is not closed (no 4008), and once it reads gets every event in id order, then live ones',
    run: async (ctx) => {
      needsCmd(ctx);
      const server = await ownServer(PACED_ENV);
      const topic = uniqueTopic('pacedws');
      const { start, ids } = await fillHistory(server.url, topic, REPLAY_EVENTS);
      const slow = await WsClient.connect(server.url);
      const socket = socketOf(slow);
      socket.pause();
      slow.send({ type: 'subscribe', topics: [topic], lastEventId: start, ref: 'resume' });
      // A client that does not read for a while (the time a replay of 12 MB takes to be refused, if it were).
      await sleep(STALL_MS);
      let m = await metrics(server.url);
      expect(m.get('relaykit_slow_consumer_closes_total'), 'the stalled resume was not closed as a slow consumer').toBe(0);
      expect(m.get('relaykit_connections{transport="ws"}'), 'the stalled client is still connected').toBe(1);
      socket.resume();
      await slow.frames.until(() => slow.events(topic).length >= REPLAY_EVENTS || !slow.isOpen, `${REPLAY_EVENTS} replayed events`, 60_000);
      expect(slow.isOpen, `open (closed: ${JSON.stringify(await Promise.race([slow.closed, sleep(10)]))})`).toBe(true);
      const live = await publish(topic, 'live', 'after', undefined, server.url);
      await slow.frames.until(() => slow.events(topic).length > REPLAY_EVENTS || !slow.isOpen, 'the live event');
      const got = slow.events(topic).map((e) => e.id);
      expect(got.length, 'no duplicates').toBe(new Set(got).size);
      expect(got).toEqual([...ids, live.body.id]);
      expect(slow.frames.items.slice(0, 2).map((f) => f.type)).toEqual(['welcome', 'subscribed']);
      expect(slow.all('reset')).toEqual([]);
      m = await metrics(server.url);
      expect(m.get('relaykit_slow_consumer_closes_total')).toBe(0);
      await slow.close();
      await server.stop();
    },
    timeoutMs: 90_000,
  },

  {
    id: 'RES-017',
    level: 'MUST',
    section: '7',
    title: 'pace an SSE replay: a stream resuming a 12 MB history that does not read is not ended, and once it reads gets every event in id order, then live ones',
    run: async (ctx) => {
      needsCmd(ctx);
      const server = await ownServer(PACED_ENV);
      const topic = uniqueTopic('pacedsse');
      const { start, ids } = await fillHistory(server.url, topic, REPLAY_EVENTS);
      const { hostname, port } = new URL(server.url);
      const socket = connect(Number(port), hostname);
      socket.on('error', () => {});
      socket.pause();
      await once(socket, 'connect');
      socket.write(requestHead('GET', `/v1/events?topic=${encodeURIComponent(topic)}`, { Accept: 'text/event-stream', 'Last-Event-ID': start }));
      await sleep(STALL_MS);
      let m = await metrics(server.url);
      expect(m.get('relaykit_slow_consumer_closes_total'), 'the stalled resume was not ended as a slow consumer').toBe(0);
      expect(m.get('relaykit_connections{transport="sse"}'), 'the stalled stream is still open').toBe(1);
      // Read: the response head, then the (chunked or close-delimited) body through eventsource-parser.
      const events = new Collector<EventSourceMessage>();
      const parser = createParser({ onEvent: (message) => events.push(message) });
      const text = new TextDecoder();
      let head: Buffer | undefined = Buffer.alloc(0);
      let status = '';
      let chunked: ChunkedDecoder | undefined;
      let ended = false;
      socket.on('data', (chunk: Buffer) => {
        if (head) {
          head = Buffer.concat([head, chunk]);
          const at = head.indexOf('\r\n\r\n');
          if (at < 0) return;
          const lines = head.subarray(0, at).toString('latin1');
          status = lines.split('\r\n')[0]!;
          if (/^transfer-encoding:.*chunked/im.test(lines)) chunked = new ChunkedDecoder();
          chunk = head.subarray(at + 4);
          head = undefined;
        }
        for (const part of chunked ? chunked.push(chunk) : [chunk]) parser.feed(text.decode(part, { stream: true }));
      });
      socket.on('close', () => {
        ended = true;
        events.notify();
      });
      socket.resume();
      await events.until((items) => items.length >= REPLAY_EVENTS || ended, `${REPLAY_EVENTS} replayed SSE events`, 60_000);
      expect(status).toMatch(/^HTTP\/1\.1 200/);
      expect(ended, 'the stream is still open').toBe(false);
      const live = await publish(topic, 'live', 'after', undefined, server.url);
      await events.until((items) => items.length > REPLAY_EVENTS || ended, 'the live event', WAIT_MS);
      expect(events.items.some((e) => e.event === 'reset')).toBe(false);
      const got = events.items.map((e) => e.id);
      expect(got.length, 'no duplicates').toBe(new Set(got).size);
      expect(got).toEqual([...ids, live.body.id]);
      for (const e of events.items) expect(JSON.parse(e.data)).toMatchObject({ id: e.id, topic });
      m = await metrics(server.url);
      expect(m.get('relaykit_slow_consumer_closes_total')).toBe(0);
      socket.destroy();
      await server.stop();
    },
    timeoutMs: 90_000,
  },

  {
    id: 'RES-018',
    level: 'MUST',
    section: '7',
    title: 'close a resuming WebSocket with 4008 once live events queued behind its paced replay outgrow MAX_BUFFERED_BYTES, while a reading subscriber gets everything',
    run: async (ctx) => {
      needsCmd(ctx);
      const server = await ownServer(PACED_ENV);
      const topic = uniqueTopic('pacedlive');
      const bystander = await WsClient.connect(server.url);
      await bystander.subscribe([topic]);
      const { start, ids } = await fillHistory(server.url, topic, REPLAY_EVENTS);
      await bystander.frames.until(() => bystander.events(topic).length >= REPLAY_EVENTS, 'the bystander to have the history', 60_000);
      const slow = await WsClient.connect(server.url);
      const socket = socketOf(slow);
      socket.pause();
      slow.send({ type: 'subscribe', topics: [topic], lastEventId: start, ref: 'resume' });
      // The stalled replay alone is no reason to close (RES-016): only the live events behind it are.
      await sleep(1000);
      expect((await metrics(server.url)).get('relaykit_slow_consumer_closes_total'), 'closed before any live event').toBe(0);
      const publisher = await WsClient.connect(server.url);
      const payload = 'l'.repeat(60_000);
      let closes = 0;
      let sent = 0;
      // Each round adds 600 KB of live events behind the stalled replay; MAX_BUFFERED_BYTES is 1 MiB.
      for (let round = 0; round < 40 && closes === 0; round++) {
        for (let i = 0; i < 10; i++) publisher.send({ type: 'publish', topic, event: { type: 'live', data: payload }, ref: ++sent });
        await publisher.frames.until((f) => f.filter((x) => x.type === 'ack').length >= sent, 'acks', 30_000);
        await bystander.frames.until(() => bystander.events(topic).length >= REPLAY_EVENTS + sent, 'the bystander to keep up', 30_000);
        closes = (await metrics(server.url)).get('relaykit_slow_consumer_closes_total') ?? 0;
      }
      expect(closes, 'the server closed the resuming client as a slow consumer').toBe(1);
      socket.resume();
      expect((await slow.closed).code).toBe(4008);
      // What the resuming client got before the close is a prefix of the topic, in order, without duplicates.
      const liveIds = byRef(publisher);
      const everything = [...ids, ...liveIds];
      const got = slow.events(topic).map((e) => e.id);
      expect(got).toEqual(everything.slice(0, got.length));
      // The reading subscriber lost nothing.
      expect(bystander.events(topic).map((e) => e.id)).toEqual(everything);
      expect(bystander.isOpen).toBe(true);
      await Promise.all([bystander.close(), publisher.close()]);
      await server.stop();
    },
    timeoutMs: 120_000,
  },
]);

/** A server whose replays must be paced: 1 MiB of send buffer against a 12 MB history. */
const PACED_ENV = { MAX_BUFFERED_BYTES: '1048576', MAX_MESSAGE_BYTES: '65536', HISTORY_SIZE: '300' };
const REPLAY_EVENTS = 200;
/** How long a paced client stalls before it reads. */
const STALL_MS = 3000;

/** Publishes `count` events of 60 KB on `topic` (pipelined, 10 at a time); returns the position before them and their ids. */
async function fillHistory(base: string, topic: string, count: number): Promise<{ start: string; ids: string[] }> {
  const publisher = await WsClient.connect(base);
  const start = publisher.welcome.position;
  const payload = 'h'.repeat(60_000);
  for (let sent = 0; sent < count; ) {
    for (let i = 0; i < 10 && sent < count; i++) publisher.send({ type: 'publish', topic, event: { type: 'old', data: payload }, ref: ++sent });
    await publisher.frames.until((f) => f.filter((x) => x.type === 'ack').length >= sent, 'acks', 30_000);
  }
  const ids = byRef(publisher);
  await publisher.close();
  return { start, ids };
}

/** The ids a publisher was acked, in the order it sent the frames (numeric refs 1, 2, ...). */
function byRef(publisher: WsClient): string[] {
  return publisher
    .all('ack')
    .slice()
    .sort((x, y) => Number(x.ref) - Number(y.ref))
    .map((a) => a.id);
}

export default area;
