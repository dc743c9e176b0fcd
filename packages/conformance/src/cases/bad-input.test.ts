import { ErrorBody, EventType, RESERVED_EVENT_TYPES, TopicName } from '@relaykit/contracts';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Bystander,
  WsClient,
  baseUrl,
  expectHttpError,
  healthy,
  serverLimits,
  topicUrl,
  uniqueTopic,
} from '../harness.ts';

let bystander: Bystander;
beforeAll(async () => {
  bystander = await Bystander.start();
});
afterAll(async () => {
  await bystander.check();
  await bystander.close();
});

/** Sends a bad frame; expects the error frame, then proves the connection and the server still work. */
async function expectWsError(frame: unknown, code: string, ref?: string | number): Promise<void> {
  const ws = await WsClient.connect();
  const topic = uniqueTopic('after');
  ws.send(frame);
  const error = await ws.next('error');
  expect(error.code, `error code for ${JSON.stringify(frame)?.slice(0, 200)}`).toBe(code);
  expect(error.message.length).toBeGreaterThan(0);
  if (ref !== undefined) expect(error.ref).toBe(ref);
  expect(ws.isOpen, 'a bad frame does not close the connection').toBe(true);
  await ws.subscribe([topic]);
  await ws.publish(topic, 'ok', 1);
  await ws.waitEvents(1);
  await ws.close();
  ws.expectAllValid();
  await bystander.check();
}

const post = (topic: string, body: string, headers: Record<string, string> = {}) =>
  fetch(topicUrl(topic), { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

describe('bad input', () => {
  it('BAD-001 MUST answer a malformed JSON frame with error bad_json and keep the connection', async () => {
    await expectWsError('{"type":"ping"', 'bad_json');
    await expectWsError('not json at all', 'bad_json');
  });

  it('BAD-002 MUST answer an unknown frame type with error bad_request, echoing ref', async () => {
    await expectWsError({ type: 'shout', ref: 'r9' }, 'bad_request', 'r9');
    await expectWsError({ ref: 3 }, 'bad_request', 3);
    await expectWsError([1, 2, 3], 'bad_request');
  });

  it('BAD-003 MUST answer a schema violation with error bad_request', async () => {
    await expectWsError({ type: 'ping', ref: 'p', extra: true }, 'bad_request', 'p');
    await expectWsError({ type: 'publish', topic: 'x', ref: 5 }, 'bad_request', 5);
    await expectWsError({ type: 'subscribe', topics: [], ref: 6 }, 'bad_request', 6);
    await expectWsError({ type: 'ping', ref: { nested: 1 } }, 'bad_request');
  });

  it('BAD-004 MUST answer a binary frame with error binary_not_supported and keep the connection', async () => {
    await expectWsError(Buffer.from([0x7b, 0x7d]), 'binary_not_supported');
  });

  it('BAD-005 MUST close a WebSocket that sends a frame over MAX_MESSAGE_BYTES with 1009', async () => {
    const { maxMessageBytes } = await serverLimits();
    const ws = await WsClient.connect();
    ws.send(JSON.stringify({ type: 'ping', ref: 'x'.repeat(maxMessageBytes) }));
    const closed = await ws.closed;
    expect(closed.code).toBe(1009);
    ws.expectAllValid();
    await bystander.check();
  });

  it('BAD-006 MUST reject an invalid topic with invalid_topic (WebSocket and HTTP)', async () => {
    await expectWsError({ type: 'subscribe', topics: ['has space'], ref: 1 }, 'invalid_topic', 1);
    await expectWsError({ type: 'subscribe', topics: ['ok', 'x'.repeat(129)], ref: 2 }, 'invalid_topic', 2);
    await expectWsError({ type: 'publish', topic: 'a/b', event: { type: 't' }, ref: 3 }, 'invalid_topic', 3);
    await expectWsError({ type: 'unsubscribe', topics: ['é'], ref: 4 }, 'invalid_topic', 4);
    await expectHttpError(post('has space', '{"type":"t"}'), 400, 'invalid_topic');
    await expectHttpError(fetch(`${topicUrl('bad topic')}?wait=0`), 400, 'invalid_topic');
    await bystander.check();
  });

  it('BAD-007 MUST reject an invalid or reserved event type with invalid_event_type (WebSocket and HTTP)', async () => {
    const topic = uniqueTopic('types');
    for (const type of [...RESERVED_EVENT_TYPES, '', 'has space', 'line\nbreak', 'x'.repeat(65)]) {
      await expectWsError({ type: 'publish', topic, event: { type, data: 1 }, ref: 'e' }, 'invalid_event_type', 'e');
      await expectHttpError(post(topic, JSON.stringify({ type, data: 1 })), 400, 'invalid_event_type');
    }
    await expectHttpError(post(topic, JSON.stringify({ type: 42 })), 400, 'invalid_event_type');
    // Nothing was published on the topic.
    const held = await fetch(`${topicUrl(topic)}?wait=0&after=garbage`).then((r) => r.json());
    expect((held as { events: unknown[] }).events).toEqual([]);
  });

  it('BAD-008 MUST reject more topics than MAX_TOPICS_PER_CONNECTION with too_many_topics (WebSocket and SSE)', async () => {
    const { maxTopics } = await serverLimits();
    const topics = Array.from({ length: maxTopics + 1 }, (_, i) => `cf.many.${i}`);
    await expectWsError({ type: 'subscribe', topics, ref: 'm' }, 'too_many_topics', 'm');
    // Reaching the limit over several subscribes counts too.
    const ws = await WsClient.connect();
    await ws.subscribe(topics.slice(0, maxTopics));
    ws.send({ type: 'subscribe', topics: [topics[maxTopics]], ref: 'one-more' });
    expect(await ws.next('error')).toMatchObject({ code: 'too_many_topics', ref: 'one-more' });
    await ws.close();
    const url = new URL(`${baseUrl()}/v1/events`);
    for (const t of topics) url.searchParams.append('topic', t);
    await expectHttpError(fetch(url), 400, 'too_many_topics');
    await bystander.check();
  });

  it('BAD-009 MUST answer a malformed JSON body with 400 bad_json and a schema violation with 400 bad_request', async () => {
    const topic = uniqueTopic('body');
    await expectHttpError(post(topic, '{"type":'), 400, 'bad_json');
    await expectHttpError(post(topic, ''), 400, 'bad_json');
    await expectHttpError(post(topic, JSON.stringify({ type: 'ok', extra: 1 })), 400, 'bad_request');
    await expectHttpError(post(topic, JSON.stringify([1])), 400, 'bad_request');
    await expectHttpError(post(topic, JSON.stringify({ type: 'ok', key: '' })), 400, 'bad_request');
    await bystander.check();
  });

  it('BAD-010 MUST answer a body over MAX_MESSAGE_BYTES with 413 message_too_large (with and without Content-Length)', async () => {
    const { maxMessageBytes } = await serverLimits();
    const topic = uniqueTopic('big');
    const big = JSON.stringify({ type: 'big', data: 'x'.repeat(maxMessageBytes) });
    await expectHttpError(post(topic, big), 413, 'message_too_large');
    const chunked = new ReadableStream<Uint8Array>({
      start(controller) {
        const bytes = new TextEncoder().encode(big);
        for (let i = 0; i < bytes.length; i += 4096) controller.enqueue(bytes.slice(i, i + 4096));
        controller.close();
      },
    });
    const response = await fetch(topicUrl(topic), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: chunked,
      duplex: 'half',
    } as RequestInit);
    await expectHttpError(response, 413, 'message_too_large');
    await bystander.check();
  });

  it('BAD-011 MUST answer an unknown route with 404 not_found JSON', async () => {
    await expectHttpError(fetch(`${baseUrl()}/nope`), 404, 'not_found');
    await expectHttpError(fetch(`${baseUrl()}/v1/topics/a/events/extra`), 404, 'not_found');
    await expectHttpError(fetch(`${baseUrl()}/v1/topics/a`, { method: 'POST', body: '{}' }), 404, 'not_found');
  });

  it('BAD-012 MUST answer a wrong method with 405 method_not_allowed JSON and an Allow header', async () => {
    for (const [method, path] of [
      ['PUT', '/v1/topics/a/events'],
      ['DELETE', '/v1/topics/a/events'],
      ['POST', '/v1/events'],
    ] as const) {
      const response = await fetch(`${baseUrl()}${path}`, { method, ...(method === 'PUT' || method === 'POST' ? { body: '{}' } : {}) });
      const allow = response.headers.get('allow');
      await expectHttpError(response, 405, 'method_not_allowed');
      expect(allow, `Allow header for ${method} ${path}`).toBeTruthy();
    }
    await bystander.check();
  });

  it('BAD-013 MUST accept or reject arbitrary topic and event-type strings with the right code, never crash (property)', async () => {
    const ws = await WsClient.connect();
    let n = 0;
    const name = fc.oneof(
      fc.string({ maxLength: 140 }),
      fc.string({ unit: 'grapheme', maxLength: 20 }),
      fc.stringMatching(/^[A-Za-z0-9_.:-]{1,130}$/),
      fc.constantFrom(...RESERVED_EVENT_TYPES, '.', '..', '%2F', '%20', '-', 'a%00'),
    );
    await fc.assert(
      fc.asyncProperty(name, name, async (topic, type) => {
        const topicOk = TopicName.safeParse(topic).success;
        const typeOk = EventType.safeParse(type).success;
        const ref = ++n;
        ws.send({ type: 'publish', topic, event: { type, data: n }, ref });
        const answer = await ws.frames.find((f) => (f.type === 'ack' || f.type === 'error') && f.ref === ref, `answer to ${ref}`);
        if (topicOk && typeOk) expect(answer.type).toBe('ack');
        else {
          expect(answer.type).toBe('error');
          if (answer.type === 'error') expect(answer.code).toBe(topicOk ? 'invalid_event_type' : 'invalid_topic');
        }
        // SSE takes the topic in the query string, where every string can travel.
        const sse = await fetch(`${baseUrl()}/v1/events?topic=${encodeURIComponent(topic)}`);
        if (topicOk) expect(sse.status).toBe(200);
        else expect(ErrorBody.parse(await sse.json()).error.code).toBe('invalid_topic');
        await sse.body?.cancel().catch(() => {});
        // '.' and '..' are dot segments that every URL parser removes from a path: not reachable by HTTP.
        if (topic.length > 0 && topic !== '.' && topic !== '..') {
          const res = await post(topic, JSON.stringify({ type, data: n }));
          const body = await res.json();
          if (topicOk && typeOk) expect(res.status).toBe(201);
          else {
            const parsed = ErrorBody.parse(body);
            if (!topicOk) expect(parsed.error.code).toBe('invalid_topic');
            if (topicOk) expect(parsed.error.code).toBe('invalid_event_type');
            expect(res.status).toBeGreaterThanOrEqual(400);
            expect(res.status).toBeLessThan(500);
          }
        }
      }),
      { numRuns: 60, endOnFailure: true },
    );
    await ws.ping();
    ws.expectAllValid();
    await ws.close();
    await healthy();
    await bystander.check();
  }, 60_000);
});
