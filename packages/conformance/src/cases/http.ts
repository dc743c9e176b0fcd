import { HealthResponse, PublishResponse } from '@relaykit/contracts';
import { expect } from 'vitest';
import { WsClient, baseUrl, expectHttpError, poll, publish, topicUrl, uniqueTopic } from '../harness/index.ts';
import { defineArea } from '../case.ts';

const area = defineArea('http');

area.describe('http', [
  {
    id: 'HTTP-001',
    level: 'MUST',
    section: '12',
    title: 'answer GET /healthz with 200 and a HealthResponse',
    run: async () => {
      const response = await fetch(`${baseUrl()}/healthz`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      const body = HealthResponse.parse(await response.json());
      expect(body.status).toBe('ok');
      const ws = await WsClient.connect();
      expect(body.server, 'healthz and welcome name the same runtime').toBe(ws.welcome.server);
      await ws.close();
    },
  },

  {
    id: 'HTTP-002',
    level: 'MUST',
    section: '5',
    title: 'answer a publish with 201 {id, duplicate:false}, and the id is the delivered id',
    run: async () => {
      const topic = uniqueTopic('pub');
      const ws = await WsClient.connect();
      await ws.subscribe([topic]);
      const response = await fetch(topicUrl(topic), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'created', data: { a: [1, 'x', null, true] } }),
      });
      expect(response.status).toBe(201);
      const body = PublishResponse.parse(await response.json());
      expect(body.duplicate).toBe(false);
      const [event] = await ws.waitEvents(1);
      expect(event).toMatchObject({ id: body.id, topic, type: 'created', data: { a: [1, 'x', null, true] } });
      await ws.close();
      ws.expectAllValid();
    },
  },

  {
    id: 'HTTP-003',
    level: 'MUST',
    section: '5',
    title: 'default `data` to null when a publish omits it',
    run: async () => {
      const topic = uniqueTopic('nodata');
      const response = await fetch(topicUrl(topic), { method: 'POST', body: JSON.stringify({ type: 'bare' }) });
      expect(response.status).toBe(201);
      const { events } = await poll(topic, { after: undefined, wait: 0 });
      expect(events).toEqual([]); // no `after`: only new events
      const { id } = PublishResponse.parse(await response.json());
      const before = await fetch(`${topicUrl(topic)}?wait=0&after=${encodeURIComponent('zz-0')}`).then((r) => r.json());
      const held = (before as { events: Array<{ id: string; data: unknown }> }).events;
      expect(held.map((e) => [e.id, e.data])).toEqual([[id, null]]);
    },
  },

  {
    id: 'HTTP-004',
    level: 'MUST',
    section: '5',
    title: 'make a publish with a repeated idempotency key return the same id with duplicate:true and deliver it once',
    run: async () => {
      const topic = uniqueTopic('idem');
      const ws = await WsClient.connect();
      await ws.subscribe([topic]);
      const first = await publish(topic, 'order', { n: 1 }, 'key-1');
      expect(first.status).toBe(201);
      expect(first.body.duplicate).toBe(false);
      const again = await publish(topic, 'order', { n: 1 }, 'key-1');
      expect(again.status, 'a duplicate is answered 200, not 201').toBe(200);
      expect(again.body).toEqual({ id: first.body.id, duplicate: true });
      // Also through a WebSocket publish with the same key.
      const ack = await ws.publish(topic, 'order', { n: 1 }, 'key-1');
      expect(ack).toMatchObject({ id: first.body.id, duplicate: true });
      const other = await publish(topic, 'order', { n: 2 }, 'key-2');
      expect(other.body.duplicate).toBe(false);
      // The event after the duplicates arrives; the key-1 event arrived exactly once before it.
      const events = await ws.waitEvents(2);
      await ws.ping();
      expect(ws.events().map((e) => e.id)).toEqual([first.body.id, other.body.id]);
      expect(events[1]!.data).toEqual({ n: 2 });
      await ws.close();
    },
  },

  {
    id: 'HTTP-005',
    level: 'SHOULD',
    section: '5',
    title: 'answer a CORS preflight with 204 and allow any origin',
    run: async () => {
      const response = await fetch(topicUrl('cors'), {
        method: 'OPTIONS',
        headers: { origin: 'https://example.test', 'access-control-request-method': 'POST' },
      });
      expect(response.status).toBe(204);
      expect(response.headers.get('access-control-allow-origin')).toBe('*');
      expect(response.headers.get('access-control-allow-methods') ?? '').toMatch(/POST/);
    },
  },

  {
    id: 'HTTP-008',
    level: 'SHOULD',
    section: '5',
    title: 'grant any origin on every HTTP API answer: publish, poll, an error, /healthz and /metrics',
    run: async () => {
      const topic = uniqueTopic('cors');
      const answers = await Promise.all([
        fetch(topicUrl(topic), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 't', data: 1 }) }),
        fetch(`${topicUrl(topic)}?wait=0`),
        fetch(topicUrl(topic), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' }),
        fetch(`${baseUrl()}/no-such-path`),
        fetch(`${baseUrl()}/healthz`),
        fetch(`${baseUrl()}/metrics`),
      ]);
      expect(answers.map((r) => r.status)).toEqual([201, 200, 400, 404, 200, 200]);
      for (const response of answers) {
        expect(response.headers.get('access-control-allow-origin'), response.url).toBe('*');
        await response.body?.cancel();
      }
    },
  },

  {
    id: 'HTTP-007',
    level: 'MUST',
    section: '4',
    title: 'answer a plain HTTP request to /v1/ws (no upgrade) with 400 bad_request JSON',
    run: async () => {
      await expectHttpError(fetch(`${baseUrl()}/v1/ws`), 400, 'bad_request');
    },
  },

  {
    id: 'HTTP-006',
    level: 'MUST',
    section: '12',
    title: 'serve /metrics as Prometheus text',
    run: async () => {
      const response = await fetch(`${baseUrl()}/metrics`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
      const text = await response.text();
      for (const t of ['sse', 'ws', 'poll']) expect(text).toMatch(new RegExp(`^relaykit_connections\\{transport="${t}"\\} \\d+$`, 'm'));
      expect(text).toMatch(/^relaykit_events_published_total \d+$/m);
      expect(text).toMatch(/^relaykit_events_delivered_total \d+$/m);
    },
  },
]);

export default area;
