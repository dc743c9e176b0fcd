import { Envelope } from '@relaykit/contracts';
import { EventSource } from 'eventsource';
import { expect } from 'vitest';
import { Collector, SseStream, WsClient, baseUrl, expectHttpError, publish, serverLimits, uniqueTopic } from '../harness/index.ts';
import { defineArea } from '../case.ts';

const area = defineArea('sse');

area.describe('sse', [
  {
    id: 'SSE-001',
    level: 'MUST',
    section: '3',
    title: 'answer with text/event-stream, Cache-Control: no-cache and X-Accel-Buffering: no',
    run: async () => {
      const stream = await SseStream.open([uniqueTopic('hdr')]);
      const h = stream.response.headers;
      expect(h.get('content-type')).toMatch(/^text\/event-stream/);
      expect(h.get('cache-control')).toMatch(/no-cache/);
      expect(h.get('x-accel-buffering')).toBe('no');
      await stream.close();
    },
  },

  {
    id: 'SSE-002',
    level: 'MUST',
    section: '3',
    title: 'open the stream with a comment and a retry: hint before any event',
    run: async () => {
      const topic = uniqueTopic('open');
      const stream = await SseStream.open([topic]);
      await stream.items.until((items) => items.some((i) => i.kind === 'retry'), 'a retry: field');
      expect(/^: ?relaykit stream open\r?\n/.test(stream.raw), `stream starts with the opening comment: ${JSON.stringify(stream.raw.slice(0, 40))}`).toBe(true);
      expect(stream.raw).toMatch(/^retry: ?\d+\r?\n/m);
      const firstEvent = stream.items.items.findIndex((i) => i.kind === 'event');
      const retry = stream.items.items.findIndex((i) => i.kind === 'retry');
      expect(firstEvent === -1 || retry < firstEvent).toBe(true);
      await stream.close();
    },
  },

  {
    id: 'SSE-003',
    level: 'MUST',
    section: '3',
    title: 'frame each event as id:, event: <type> and one data: line holding the whole envelope as JSON',
    run: async () => {
      const topic = uniqueTopic('frame');
      const stream = await SseStream.open([topic]);
      const { body } = await publish(topic, 'order.created', { sku: 'a', qty: 2, tags: ['x', 'y'] });
      await stream.waitEnvelopes(1);
      // The event's block, not the bare `id:` a fresh stream may announce with the same id (when its
      // join read the position after this publish, on a loaded machine).
      const block = stream.raw
        .split(/\r?\n\r?\n/)
        .find((b) => (b.includes(`id: ${body.id}`) || b.includes(`id:${body.id}`)) && /^data:/m.test(b));
      expect(block, `an SSE block with id ${body.id}`).toBeDefined();
      const lines = block!.split(/\r?\n/).filter((l) => !l.startsWith(':'));
      const field = (name: string) => lines.filter((l) => l.startsWith(`${name}:`)).map((l) => l.slice(name.length + 1).replace(/^ /, ''));
      expect(field('id')).toEqual([body.id]);
      expect(field('event')).toEqual(['order.created']);
      const data = field('data');
      expect(data, 'exactly one data: line').toHaveLength(1);
      const envelope = Envelope.parse(JSON.parse(data[0]!));
      expect(envelope).toMatchObject({ id: body.id, topic, type: 'order.created', data: { sku: 'a', qty: 2, tags: ['x', 'y'] } });
      stream.expectWellFormed();
      await stream.close();
    },
  },

  {
    id: 'SSE-004',
    level: 'MUST',
    section: '3',
    title: 'round-trip data containing CR, LF and CRLF (raw parser and the eventsource client)',
    run: async () => {
      const topic = uniqueTopic('lines');
      const values = ['line one\nline two', 'a\r\nb', 'c\rd', '\n\nstarts and ends\n', 'data: forged\n\nid: 1\nevent: reset'];
      const stream = await SseStream.open([topic]);
      const es = new EventSource(`${baseUrl()}/v1/events?topic=${topic}`);
      const esEvents = new Collector<MessageEvent>();
      es.addEventListener('text', (e) => esEvents.push(e));
      await new Promise<void>((resolve, reject) => {
        es.onopen = () => resolve();
        es.onerror = () => reject(new Error('EventSource failed to open'));
      });
      for (const value of values) await publish(topic, 'text', { value, nested: [value] });
      const envelopes = await stream.waitEnvelopes(values.length);
      expect(envelopes.map((e) => (e.data as { value: string }).value)).toEqual(values);
      await esEvents.until((items) => items.length >= values.length, `${values.length} EventSource events`);
      const viaClient = esEvents.items.map((e) => Envelope.parse(JSON.parse(e.data as string)));
      expect(viaClient.map((e) => e.data)).toEqual(values.map((value) => ({ value, nested: [value] })));
      expect(esEvents.items.map((e) => e.lastEventId)).toEqual(envelopes.map((e) => e.id));
      expect(stream.events().some((e) => e.event === 'reset'), 'no forged reset').toBe(false);
      es.close();
      await stream.close();
    },
  },

  {
    id: 'SSE-005',
    level: 'MUST',
    section: '3',
    title: 'send a keepalive comment every HEARTBEAT_MS on an idle stream',
    run: async (ctx) => {
      const { heartbeatMs } = await serverLimits();
      if (heartbeatMs > 20_000) ctx.skip(`HEARTBEAT_MS is ${heartbeatMs}; too long to observe (run with --cmd)`);
      const stream = await SseStream.open([uniqueTopic('idle')]);
      const comments = () => stream.items.items.filter((i) => i.kind === 'comment').length;
      const start = comments();
      // Two keepalives must arrive; allow 4x the interval per keepalive on a loaded machine.
      await stream.items.until(() => comments() >= start + 2, 'two keepalive comments', heartbeatMs * 8 + 2000);
      expect(stream.ended).toBe(false);
      await stream.close();
    },
    timeoutMs: 60_000,
  },

  {
    id: 'SSE-006',
    level: 'MUST',
    section: '3',
    title: 'refuse a stream without a topic (400 bad_request) or with an invalid topic (400 invalid_topic)',
    run: async () => {
      await expectHttpError(fetch(`${baseUrl()}/v1/events`), 400, 'bad_request');
      await expectHttpError(fetch(`${baseUrl()}/v1/events?topic=${encodeURIComponent('has space')}`), 400, 'invalid_topic');
      await expectHttpError(fetch(`${baseUrl()}/v1/events?topic=ok&topic=${encodeURIComponent('bad/slash')}`), 400, 'invalid_topic');
    },
  },

  {
    id: 'SSE-007',
    level: 'MUST',
    section: '3',
    title: 'deliver the events of several topics on one stream, in publication order',
    run: async () => {
      const [a, b] = [uniqueTopic('ma'), uniqueTopic('mb')];
      const stream = await SseStream.open([a, b]);
      const ids: string[] = [];
      for (let i = 0; i < 6; i++) ids.push((await publish(i % 2 ? b : a, 'n', i)).body.id);
      const got = await stream.waitEnvelopes(6);
      expect(got.map((e) => e.id)).toEqual(ids);
      expect(got.map((e) => e.topic)).toEqual([a, b, a, b, a, b]);
      await stream.close();
    },
  },

  {
    id: 'SSE-009',
    level: 'MUST',
    section: '3',
    title: 'ignore a topic repeated in the query: each event once',
    run: async () => {
      const topic = uniqueTopic('dup');
      const stream = await SseStream.open([topic, topic, topic]);
      const a = await publish(topic, 'x', 1);
      const b = await publish(topic, 'x', 2);
      await stream.waitEnvelopes(2);
      const witness = await SseStream.open([topic]);
      const c = await publish(topic, 'x', 3);
      await witness.waitEnvelopes(1);
      await stream.waitEnvelopes(3);
      expect(stream.envelopes().map((e) => e.id)).toEqual([a.body.id, b.body.id, c.body.id]);
      await Promise.all([stream.close(), witness.close()]);
    },
  },

  {
    id: 'SSE-010',
    level: 'SHOULD',
    section: '3',
    title: 'allow cross-origin EventSource (Access-Control-Allow-Origin: *) and send the stream uncompressed',
    run: async () => {
      const stream = await SseStream.open([uniqueTopic('cors')]);
      expect(stream.response.headers.get('access-control-allow-origin')).toBe('*');
      expect(stream.response.headers.get('content-encoding')).toBeNull();
      await stream.close();
    },
  },

  {
    id: 'SSE-008',
    level: 'MUST',
    section: '3',
    title: 'deliver the same envelope on SSE as on WebSocket (same id, time and data)',
    run: async () => {
      const topic = uniqueTopic('same');
      const stream = await SseStream.open([topic]);
      const ws = await WsClient.connect();
      await ws.subscribe([topic]);
      await publish(topic, 'x', { deep: { list: [1.5, -2, 'é', '\u2028'] } });
      const [fromSse] = await stream.waitEnvelopes(1);
      const [fromWs] = await ws.waitEvents(1);
      expect(fromSse).toEqual(fromWs);
      await Promise.all([stream.close(), ws.close()]);
    },
  },
  {
    id: 'SSE-011',
    level: 'MUST',
    section: '3',
    title: 'announce a fresh stream\'s position with a bare id: line, from which a resume loses nothing',
    run: async () => {
      const topic = uniqueTopic('position');
      const fresh = await SseStream.open([topic]);
      const announced = await fresh.items.until(() => /\nid: ?[^\n]+\n\n/.test(fresh.raw), 'an id: line').then(
        () => /\nid: ?([^\n]+)\n\n/.exec(fresh.raw)![1]!,
      );
      // After the opening comment and retry hint, and dispatching no event (no data: of its own).
      expect(fresh.raw.indexOf('retry:')).toBeLessThan(fresh.raw.indexOf(`id: ${announced}`));
      expect(fresh.events()).toHaveLength(0);
      // The stream drops before its first event; what was published meanwhile is replayed on resume.
      await fresh.close();
      const { body } = await publish(topic, 'x', 'missed');
      const resumed = await SseStream.open([topic], { lastEventId: announced });
      const [missed] = await resumed.waitEnvelopes(1);
      expect(missed!.id).toBe(body.id);
      expect(resumed.events().filter((e) => e.event === 'reset')).toHaveLength(0);
      // A resumed stream keeps the client's id: no announcement that could skip its replay.
      expect(/\nid: ?([^\n]+)\n/.exec(resumed.raw)![1], 'the first id: on the resumed stream').toBe(body.id);
      await resumed.close();
    },
  },
]);

export default area;
