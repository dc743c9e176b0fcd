import { HealthResponse, PublishResponse } from '@relaykit/contracts';
import { describe, expect, it } from 'vitest';
import { WsClient, baseUrl, expectHttpError, poll, publish, topicUrl, uniqueTopic } from '../harness.ts';

describe('http', () => {
  it('HTTP-001 MUST answer GET /healthz with 200 and a HealthResponse', async () => {
    const response = await fetch(`${baseUrl()}/healthz`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const body = HealthResponse.parse(await response.json());
    expect(body.status).toBe('ok');
    const ws = await WsClient.connect();
    expect(body.server, 'healthz and welcome name the same runtime').toBe(ws.welcome.server);
    await ws.close();
  });

  it('HTTP-002 MUST answer a publish with 201 {id, duplicate:false}, and the id is the delivered id', async () => {
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
  });

  it('HTTP-003 MUST default `data` to null when a publish omits it', async () => {
    const topic = uniqueTopic('nodata');
    const response = await fetch(topicUrl(topic), { method: 'POST', body: JSON.stringify({ type: 'bare' }) });
    expect(response.status).toBe(201);
    const { events } = await poll(topic, { after: undefined, wait: 0 });
    expect(events).toEqual([]); // no `after`: only new events
    const { id } = PublishResponse.parse(await response.json());
    const before = await fetch(`${topicUrl(topic)}?wait=0&after=${encodeURIComponent('zz-0')}`).then((r) => r.json());
    const held = (before as { events: Array<{ id: string; data: unknown }> }).events;
    expect(held.map((e) => [e.id, e.data])).toEqual([[id, null]]);
  });

  it('HTTP-004 MUST make a publish with a repeated idempotency key return the same id with duplicate:true and deliver it once', async () => {
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
  });

  it('HTTP-005 SHOULD answer a CORS preflight with 204 and allow any origin', async () => {
    const response = await fetch(topicUrl('cors'), {
      method: 'OPTIONS',
      headers: { origin: 'https://example.test', 'access-control-request-method': 'POST' },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    expect(response.headers.get('access-control-allow-methods') ?? '').toMatch(/POST/);
  });

  it('HTTP-007 MUST answer a plain HTTP request to /v1/ws (no upgrade) with 400 bad_request JSON', async () => {
    await expectHttpError(fetch(`${baseUrl()}/v1/ws`), 400, 'bad_request');
  });

  it('HTTP-006 MUST serve /metrics as Prometheus text', async () => {
    const response = await fetch(`${baseUrl()}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await response.text();
    for (const t of ['sse', 'ws', 'poll']) expect(text).toMatch(new RegExp(`^relaykit_connections\\{transport="${t}"\\} \\d+$`, 'm'));
    expect(text).toMatch(/^relaykit_events_published_total \d+$/m);
    expect(text).toMatch(/^relaykit_events_delivered_total \d+$/m);
  });
});
