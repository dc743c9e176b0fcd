import { CloseCode, ErrorBody, EventType, MESSAGE_TOO_BIG_REASON, PublishResponse, RESERVED_EVENT_TYPES, TopicName } from '@relaykit/contracts';
import fc from 'fast-check';
import { expect } from 'vitest';
import {
  Bystander,
  type Frame,
  RawSocket,
  RawWebSocket,
  WsClient,
  baseUrl,
  expectHttpError,
  healthy,
  jsonTextDepth,
  maxJsonDepth,
  needsCmd,
  nestedJson,
  ownServer,
  parseHttpResponse,
  poll,
  publish,
  requestHead,
  serverLimits,
  sleep,
  stopOwnServers,
  topicUrl,
  uniqueTopic,
  upgradeStatus,
  wsUrl,
} from '../harness/index.ts';
import { defineArea } from '../case.ts';

const area = defineArea('bad-input');

let bystander: Bystander;
area.beforeAll(async () => {
  bystander = await Bystander.start();
});
area.afterAll(async () => {
  await bystander.check();
  await bystander.close();
});
area.afterAll(stopOwnServers);

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

area.describe('bad input', [
  {
    id: 'BAD-001',
    level: 'MUST',
    section: '9',
    title: 'answer a malformed JSON frame with error bad_json and keep the connection',
    run: async () => {
      await expectWsError('{"type":"ping"', 'bad_json');
      await expectWsError('not json at all', 'bad_json');
    },
  },

  {
    id: 'BAD-002',
    level: 'MUST',
    section: '9',
    title: 'answer an unknown frame type with error bad_request, echoing ref',
    run: async () => {
      await expectWsError({ type: 'shout', ref: 'r9' }, 'bad_request', 'r9');
      await expectWsError({ ref: 3 }, 'bad_request', 3);
      await expectWsError([1, 2, 3], 'bad_request');
    },
  },

  {
    id: 'BAD-003',
    level: 'MUST',
    section: '9',
    title: 'answer a schema violation with error bad_request',
    run: async () => {
      await expectWsError({ type: 'ping', ref: 'p', extra: true }, 'bad_request', 'p');
      await expectWsError({ type: 'publish', topic: 'x', ref: 5 }, 'bad_request', 5);
      await expectWsError({ type: 'subscribe', topics: [], ref: 6 }, 'bad_request', 6);
      await expectWsError({ type: 'ping', ref: { nested: 1 } }, 'bad_request');
    },
  },

  {
    id: 'BAD-004',
    level: 'MUST',
    section: '9',
    title: 'answer a binary frame with error binary_not_supported and keep the connection',
    run: async () => {
      await expectWsError(Buffer.from([0x7b, 0x7d]), 'binary_not_supported');
    },
  },

  {
    id: 'BAD-005',
    level: 'MUST',
    section: '11',
    title: 'close a WebSocket that sends a frame over MAX_MESSAGE_BYTES with 1009',
    run: async () => {
      const { maxMessageBytes } = await serverLimits();
      const ws = await WsClient.connect();
      ws.send(JSON.stringify({ type: 'ping', ref: 'x'.repeat(maxMessageBytes) }));
      const closed = await ws.closed;
      expect(closed.code).toBe(1009);
      ws.expectAllValid();
      await bystander.check();
    },
  },

  {
    id: 'BAD-006',
    level: 'MUST',
    section: '2',
    title: 'reject an invalid topic with invalid_topic (WebSocket and HTTP)',
    run: async () => {
      await expectWsError({ type: 'subscribe', topics: ['has space'], ref: 1 }, 'invalid_topic', 1);
      await expectWsError({ type: 'subscribe', topics: ['ok', 'x'.repeat(129)], ref: 2 }, 'invalid_topic', 2);
      await expectWsError({ type: 'publish', topic: 'a/b', event: { type: 't' }, ref: 3 }, 'invalid_topic', 3);
      await expectWsError({ type: 'unsubscribe', topics: ['é'], ref: 4 }, 'invalid_topic', 4);
      await expectHttpError(post('has space', '{"type":"t"}'), 400, 'invalid_topic');
      await expectHttpError(fetch(`${topicUrl('bad topic')}?wait=0`), 400, 'invalid_topic');
      await bystander.check();
    },
  },

  {
    id: 'BAD-007',
    level: 'MUST',
    section: '2',
    title: 'reject an invalid or reserved event type with invalid_event_type (WebSocket and HTTP)',
    run: async () => {
      const topic = uniqueTopic('types');
      for (const type of [...RESERVED_EVENT_TYPES, '', 'has space', 'line\nbreak', 'x'.repeat(65)]) {
        await expectWsError({ type: 'publish', topic, event: { type, data: 1 }, ref: 'e' }, 'invalid_event_type', 'e');
        await expectHttpError(post(topic, JSON.stringify({ type, data: 1 })), 400, 'invalid_event_type');
      }
      await expectHttpError(post(topic, JSON.stringify({ type: 42 })), 400, 'invalid_event_type');
      // Nothing was published on the topic.
      const held = await fetch(`${topicUrl(topic)}?wait=0&after=garbage`).then((r) => r.json());
      expect((held as { events: unknown[] }).events).toEqual([]);
    },
  },

  {
    id: 'BAD-008',
    level: 'MUST',
    section: '11',
    title: 'reject more topics than MAX_TOPICS_PER_CONNECTION with too_many_topics (WebSocket and SSE)',
    run: async () => {
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
    },
  },

  {
    id: 'BAD-009',
    level: 'MUST',
    section: '9',
    title: 'answer a malformed JSON body with 400 bad_json and a schema violation with 400 bad_request',
    run: async () => {
      const topic = uniqueTopic('body');
      await expectHttpError(post(topic, '{"type":'), 400, 'bad_json');
      await expectHttpError(post(topic, ''), 400, 'bad_json');
      await expectHttpError(post(topic, JSON.stringify({ type: 'ok', extra: 1 })), 400, 'bad_request');
      await expectHttpError(post(topic, JSON.stringify([1])), 400, 'bad_request');
      await expectHttpError(post(topic, JSON.stringify({ type: 'ok', key: '' })), 400, 'bad_request');
      await bystander.check();
    },
  },

  {
    id: 'BAD-010',
    level: 'MUST',
    section: '11',
    title: 'answer a body over MAX_MESSAGE_BYTES with 413 message_too_large (with and without Content-Length)',
    run: async () => {
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
    },
  },

  {
    id: 'BAD-011',
    level: 'MUST',
    section: '9',
    title: 'answer an unknown route with 404 not_found JSON',
    run: async () => {
      await expectHttpError(fetch(`${baseUrl()}/nope`), 404, 'not_found');
      await expectHttpError(fetch(`${baseUrl()}/v1/topics/a/events/extra`), 404, 'not_found');
      await expectHttpError(fetch(`${baseUrl()}/v1/topics/a`, { method: 'POST', body: '{}' }), 404, 'not_found');
    },
  },

  {
    id: 'BAD-012',
    level: 'MUST',
    section: '9',
    title: 'answer a wrong method with 405 method_not_allowed JSON and an Allow header',
    run: async () => {
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
    },
  },

  {
    id: 'BAD-013',
    level: 'MUST',
    section: '2',
    title: 'accept or reject arbitrary topic and event-type strings with the right code, never crash (property)',
    run: async () => {
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
    },
    timeoutMs: 60_000,
  },
]);

// ---- nesting depth, arbitrary JSON, and what arrives on the wire -----------------------------

/** The answer (ack or error) to the frame sent with `ref`. */
function answerTo(ws: WsClient, ref: string): Promise<Extract<Frame, { type: 'ack' | 'error' }>> {
  return ws.frames.find(
    (f): f is Extract<Frame, { type: 'ack' | 'error' }> => (f.type === 'ack' || f.type === 'error') && f.ref === ref,
    `the answer to ${ref}`,
  );
}

/** Arrays and objects alternating, `depth` levels: `[{"k":[{"k":0}]}]` is 4. */
function mixedJson(depth: number): string {
  let open = '';
  let close = '';
  for (let i = 0; i < depth; i++) {
    open += i % 2 === 0 ? '[' : '{"k":';
    close = (i % 2 === 0 ? ']' : '}') + close;
  }
  return `${open}0${close}`;
}

/** The issue's reproducer: 3,000 nested arrays, about 6 KB. */
const REPRODUCER_DEPTH = 3000;

const publishFrame = (topic: string, data: string, ref?: string) =>
  `{"type":"publish","topic":${JSON.stringify(topic)},"event":{"type":"deep","data":${data}}${ref === undefined ? '' : `,"ref":${JSON.stringify(ref)}`}}`;

/** One fuzz input: JSON text (or bytes); `valid` when it is JSON whose numbers are all finite. */
interface FuzzInput {
  text: string;
  valid: boolean;
  bytes?: Uint8Array;
}

/**
 * Arbitraries over all of Unicode take fast-check about a second to build: built when the file
 * loads, before any connection is open, so that no WebSocket of this process (the bystander's
 * included) misses a heartbeat ping meanwhile.
 */
const BINARY_JSON = fc.jsonValue({ maxDepth: 6, stringUnit: 'binary' });
const BINARY_STRING = fc.string({ unit: 'binary', maxLength: 3000 });

function fuzzInputs(depthLimit: number): fc.Arbitrary<FuzzInput> {
  const valid = (text: string): FuzzInput => ({ text, valid: true });
  const raw = (text: string): FuzzInput => ({ text, valid: false });
  const depth = fc.oneof(
    fc.integer({ min: Math.max(0, depthLimit - 2), max: depthLimit + 2 }),
    fc.integer({ min: 0, max: 300 }),
    fc.constantFrom(1000, REPRODUCER_DEPTH, 5000),
  );
  const loneSurrogate = fc.constantFrom('\ud800', '\udbff', '\udc00', '\udfff', 'a\ud83d', '\ude00b', '\ud83d\ude00');
  return fc.oneof(
    // Ordinary JSON of every kind, strings over all of Unicode.
    BINARY_JSON.map((v) => valid(JSON.stringify(v))),
    fc.jsonValue({ maxDepth: 3 }).map((v) => valid(JSON.stringify(v))),
    // Deep: arrays, objects, both, around the limit and far past it; and unbalanced.
    fc.tuple(depth, fc.constantFrom('array', 'object', 'mixed')).map(([d, kind]) =>
      valid(kind === 'mixed' ? mixedJson(d) : nestedJson(d, kind as 'array' | 'object')),
    ),
    fc.tuple(depth, fc.constantFrom('[', '{"a":', ']', '}', '[{')).map(([d, open]) => raw(open.repeat(d))),
    // Wide.
    fc.array(fc.integer(), { maxLength: 1500 }).map((v) => valid(JSON.stringify(v))),
    fc.dictionary(fc.string({ maxLength: 10 }), fc.oneof(fc.integer(), fc.boolean()), { maxKeys: 400 }).map((v) => valid(JSON.stringify(v))),
    // Long strings, also of brackets, quotes and escapes (none of which nests).
    BINARY_STRING.map((s) => valid(JSON.stringify(s))),
    fc.tuple(fc.constantFrom('[', '{', '"', '\\', '\\u', '\\"[', ']'), fc.integer({ min: 1, max: 5000 })).map(([s, n]) =>
      valid(JSON.stringify(s.repeat(n))),
    ),
    // Unicode: lone surrogates, escaped and raw (a raw one travels as U+FFFD).
    fc.array(loneSurrogate, { minLength: 1, maxLength: 20 }).map((parts) => valid(JSON.stringify(parts.join('')))),
    fc.array(loneSurrogate, { minLength: 1, maxLength: 20 }).map((parts) => valid(`"${parts.join('')}"`)),
    fc.constantFrom('"\\ud800"', '"\\udfff\\ud800"', '{"\\ud800":"\\udc00"}', '"\\u0000"', '"\\uffff"', '"\ufeff"').map(valid),
    // Odd numbers: finite ones are valid JSON numbers; 1e999 is JSON text JavaScript reads as Infinity.
    fc
      .constantFrom('-0', '-0.0e-0', '123456789012345678901234567890', '9007199254740993', '1e-400', '-1E+308', '0.1e1', '[1e308,-1e-308]')
      .map(valid),
    fc.constantFrom('1e999', '-1e999', '[1E400]', '{"n":1e99999}').map(raw),
    fc.bigInt({ min: -(10n ** 60n), max: 10n ** 60n }).map((n) => valid(n.toString())),
    // Keys that are special to JavaScript objects, and duplicate keys.
    fc
      .constantFrom(
        '{"__proto__":{"polluted":true}}',
        '{"__proto__":null,"a":[1]}',
        '[{"__proto__":[]}]',
        '{"constructor":{"prototype":{"polluted":true}}}',
        '{"a":1,"a":2}',
        '{"k":{"x":1},"k":[[[]]],"k":"last"}',
        '{"__proto__":1,"__proto__":2}',
        '{"toString":1,"valueOf":{},"hasOwnProperty":[]}',
      )
      .map(valid),
    // Not JSON.
    fc.string({ maxLength: 200 }).map(raw),
    fc
      .constantFrom('', ' ', 'NaN', 'Infinity', 'undefined', "'x'", '{a:1}', '[1,]', '{"a":1,}', '01', '.5', '+1', '"\\x41"', '"\u0001"', '\ufeff{}', '/**/1', '[', '{"a"', '"unterminated', '\u0000')
      .map(raw),
    fc.jsonValue({ maxDepth: 3 }).chain((v) => {
      const text = JSON.stringify(v);
      return fc.integer({ min: 0, max: Math.max(0, text.length - 1) }).map((cut) => raw(text.slice(0, cut)));
    }),
    // Random bytes (over WebSocket as a binary frame or as Latin-1 text; over HTTP as they are).
    fc.uint8Array({ maxLength: 3000 }).map((bytes) => ({ text: Buffer.from(bytes).toString('latin1'), valid: false, bytes })),
  );
}

/** Inputs every run tries first, whatever the seed: refs that are not valid Refs, the reproducer, prototype keys. */
function fuzzExamples(): [Array<[WsShape, FuzzInput]>, Array<[HttpShape, FuzzInput]>] {
  const valid = (text: string): FuzzInput => ({ text, valid: true });
  const raw = (text: string): FuzzInput => ({ text, valid: false });
  return [
    [
      ['ref', raw('1e999')],
      ['ref', raw('-1e999')],
      ['ref', valid(JSON.stringify('r'.repeat(129)))],
      ['ref', valid('{"__proto__":{"polluted":true}}')],
      ['frame', valid(nestedJson(REPRODUCER_DEPTH))],
      ['frame', raw('['.repeat(REPRODUCER_DEPTH))],
      ['data', valid(nestedJson(REPRODUCER_DEPTH, 'object'))],
      ['data', valid('{"__proto__":{"polluted":true},"a":1,"a":2}')],
      ['data', raw('1e999')],
      ['topics', valid(nestedJson(REPRODUCER_DEPTH))],
      ['binary', { text: '{}', valid: false, bytes: Uint8Array.from([0xff, 0xfe, 0x00]) }],
    ],
    [
      ['data', valid(nestedJson(REPRODUCER_DEPTH))],
      ['body', valid(nestedJson(REPRODUCER_DEPTH, 'object'))],
      ['data', raw('1e999')],
      ['key', valid(JSON.stringify('k'.repeat(200)))],
      ['bytes', { text: '', valid: false, bytes: Uint8Array.from([0xc3, 0x28, 0xed, 0xa0, 0x80]) }],
    ],
  ];
}

/** Where a fuzz input goes in a WebSocket frame. */
type WsShape = 'data' | 'frame' | 'topic' | 'type' | 'topics' | 'key' | 'ref' | 'binary';
const WS_SHAPES: WsShape[] = ['data', 'data', 'data', 'frame', 'frame', 'topic', 'type', 'topics', 'key', 'ref', 'binary'];
/** Where a fuzz input goes in an HTTP publish body. */
type HttpShape = 'data' | 'body' | 'type' | 'key' | 'bytes';
const HTTP_SHAPES: HttpShape[] = ['data', 'data', 'body', 'type', 'key', 'bytes'];

/** Error codes a bad frame or body may get from a server without auth; `internal` is never one. */
const INPUT_ERROR_CODES = ['bad_json', 'bad_request', 'binary_not_supported', 'invalid_topic', 'invalid_event_type', 'too_many_topics', 'message_too_large'];

function wsFrameFor(shape: WsShape, input: FuzzInput, topic: string, ref: string): string {
  const r = JSON.stringify(ref);
  const x = input.text;
  switch (shape) {
    case 'data':
      return `{"type":"publish","topic":${JSON.stringify(topic)},"event":{"type":"fuzz","data":${x}},"ref":${r}}`;
    case 'topic':
      return `{"type":"publish","topic":${x},"event":{"type":"fuzz","data":1},"ref":${r}}`;
    case 'type':
      return `{"type":"publish","topic":${JSON.stringify(topic)},"event":{"type":${x},"data":1},"ref":${r}}`;
    case 'topics':
      return `{"type":"subscribe","topics":${x},"ref":${r}}`;
    case 'key':
      return `{"type":"publish","topic":${JSON.stringify(topic)},"event":{"type":"fuzz","data":1},"key":${x},"ref":${r}}`;
    case 'ref':
      // The input is the ref: whatever it is, the frame gets exactly one answer (a ping answers pong).
      return `{"type":"ping","ref":${x}}`;
    case 'frame':
    case 'binary':
      return x;
  }
}

function httpBodyFor(shape: HttpShape, input: FuzzInput): string | Uint8Array {
  switch (shape) {
    case 'data':
      return `{"type":"fuzz","data":${input.text}}`;
    case 'type':
      return `{"type":${input.text}}`;
    case 'key':
      return `{"type":"fuzz","data":1,"key":${input.text}}`;
    case 'body':
      return input.text;
    case 'bytes':
      return input.bytes ?? Buffer.from(input.text);
  }
}

function parses(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

const show = (text: string) => JSON.stringify(text.length > 300 ? `${text.slice(0, 300)}...(${text.length} chars)` : text);

/** Answers that end a frame: everything but events and resets. */
const isAnswer = (f: Frame) => f.type !== 'event' && f.type !== 'reset' && f.type !== 'welcome';

/** Per fast-check run: frames over WebSocket (split over two connections) and HTTP bodies. */
const FUZZ_RUNS = 32;
const FUZZ_WS_PER_RUN = 100;
const FUZZ_HTTP_PER_RUN = 16;
const FUZZ_HTTP_CONCURRENCY = 4;
/** Inputs one run of the case must try, per runtime (three runtimes: over 10,000 per CI run). */
const FUZZ_MIN_INPUTS = 3400;

area.describe('bad input: nesting, arbitrary JSON, the wire', [
  {
    id: 'BAD-014',
    level: 'MUST',
    section: '2',
    title: 'answer a WebSocket publish whose data nests deeper than MAX_JSON_DEPTH with error bad_request (ref echoed, connection kept), accept exactly MAX_JSON_DEPTH intact, and survive the 3,000-array reproducer',
    run: async () => {
      const depth = await maxJsonDepth();
      const topic = uniqueTopic('deepws');
      const ws = await WsClient.connect();
      await ws.subscribe([topic]);
      // Exactly MAX_JSON_DEPTH: accepted and delivered as sent. Brackets inside a string do not nest.
      const accepted = [
        nestedJson(depth, 'array'),
        nestedJson(depth, 'object', '"leaf"'),
        mixedJson(depth),
        JSON.stringify('['.repeat(REPRODUCER_DEPTH)),
        JSON.stringify(`"\\[{${'['.repeat(500)}`),
      ];
      for (const [i, data] of accepted.entries()) {
        ws.send(publishFrame(topic, data, `exact-${i}`));
        expect((await answerTo(ws, `exact-${i}`)).type, `publish of depth ${jsonTextDepth(data)} is accepted`).toBe('ack');
      }
      const delivered = await ws.waitEvents(accepted.length, topic);
      expect(delivered.map((e) => e.data)).toEqual(accepted.map((t) => JSON.parse(t)));
      // One level more, however it nests: refused, with the ref, the connection kept.
      const refused = [nestedJson(depth + 1, 'array'), nestedJson(depth + 1, 'object'), mixedJson(depth + 1), `[${nestedJson(depth, 'object')}]`];
      for (const [i, data] of refused.entries()) {
        ws.send(publishFrame(topic, data, `over-${i}`));
        const error = await answerTo(ws, `over-${i}`);
        expect(error, `publish of depth ${depth + 1}`).toMatchObject({ type: 'error', code: 'bad_request', ref: `over-${i}` });
        expect(error.type === 'error' && error.message).toMatch(/MAX_JSON_DEPTH/);
        expect(ws.isOpen, 'a too-deep frame does not close the connection').toBe(true);
      }
      // The issue's reproducer, with a ref and exactly as the issue sends it (no ref).
      ws.send(publishFrame(topic, nestedJson(REPRODUCER_DEPTH, 'array', ''), 'repro'));
      expect(await answerTo(ws, 'repro')).toMatchObject({ type: 'error', code: 'bad_request', ref: 'repro' });
      const other = await WsClient.connect();
      other.send(`{"type":"publish","topic":"x","event":{"type":"t","data":${'['.repeat(REPRODUCER_DEPTH)}${']'.repeat(REPRODUCER_DEPTH)}}}`);
      const error = await other.next('error');
      expect(error.code).toBe('bad_request');
      expect(error.ref).toBeUndefined();
      await other.ping();
      await other.close();
      // Nothing refused was published; the connection still works.
      await ws.publish(topic, 'after', 1);
      await ws.waitEvents(accepted.length + 1, topic);
      expect(ws.events(topic).map((e) => e.type)).toEqual([...accepted.map(() => 'deep'), 'after']);
      await ws.close();
      await healthy();
      await bystander.check();
    },
  },

  {
    id: 'BAD-015',
    level: 'MUST',
    section: '2',
    title: 'answer an HTTP publish whose data nests deeper than MAX_JSON_DEPTH with 400 bad_request, and accept exactly MAX_JSON_DEPTH with 201',
    run: async () => {
      const depth = await maxJsonDepth();
      const topic = uniqueTopic('deephttp');
      const { cursor } = await poll(topic, { wait: 0 });
      const body = (data: string) => `{"type":"deep","data":${data}}`;
      const accepted = [nestedJson(depth, 'array'), nestedJson(depth, 'object', 'null'), mixedJson(depth), JSON.stringify('{'.repeat(REPRODUCER_DEPTH))];
      const ids: string[] = [];
      for (const data of accepted) {
        const response = await post(topic, body(data));
        const json = await response.json();
        expect(response.status, `publish of depth ${jsonTextDepth(data)}: ${JSON.stringify(json)}`).toBe(201);
        ids.push(PublishResponse.parse(json).id);
      }
      for (const data of [nestedJson(depth + 1, 'array'), nestedJson(depth + 1, 'object'), mixedJson(depth + 1), nestedJson(REPRODUCER_DEPTH, 'array', '')]) {
        const error = await expectHttpError(post(topic, body(data)), 400, 'bad_request');
        expect(error.message, `the error names the limit (depth ${jsonTextDepth(data)})`).toMatch(/MAX_JSON_DEPTH/);
      }
      // The whole body too deep, not only `data`.
      await expectHttpError(post(topic, nestedJson(REPRODUCER_DEPTH)), 400, 'bad_request');
      const held = await poll(topic, { after: cursor, wait: 0 });
      expect(held.events.map((e) => e.id)).toEqual(ids);
      expect(held.events.map((e) => e.data)).toEqual(accepted.map((t) => JSON.parse(t)));
      await healthy();
      await bystander.check();
    },
  },

  {
    id: 'BAD-016',
    level: 'MUST',
    section: '9',
    title: `answer arbitrary JSON and non-JSON (deep, wide, long, odd numbers, lone surrogates, __proto__ and duplicate keys, random bytes) over WebSocket and HTTP with a well-formed answer, never a 5xx or a dropped connection (property, >= ${FUZZ_MIN_INPUTS} inputs)`,
    run: async () => {
      const { maxMessageBytes } = await serverLimits();
      const depthLimit = await maxJsonDepth();
      const topic = uniqueTopic('fuzz');
      const clients = [await WsClient.connect(), await WsClient.connect()];
      const tried = { ws: 0, http: 0 };
      let seq = 0;
      const input = fuzzInputs(depthLimit);
      const wsCase = fc.tuple(fc.constantFrom(...WS_SHAPES), input);
      const httpCase = fc.tuple(fc.constantFrom(...HTTP_SHAPES), input);

      async function wsBatch(ws: WsClient, batch: Array<[WsShape, FuzzInput]>): Promise<void> {
        ws.frames.items.length = 0;
        const expected = new Map<string, { shape: WsShape; input: FuzzInput; frame: string }>();
        let others = 0;
        const unattributed: string[] = [];
        for (const [shape, item] of batch) {
          const ref = `fz-${++seq}`;
          const frame = wsFrameFor(shape, item, topic, ref);
          if (shape === 'binary') {
            const payload = Buffer.from(item.bytes ?? Buffer.from(item.text));
            if (payload.length > maxMessageBytes) continue;
            ws.ws.send(payload, { binary: true });
            others++;
            tried.ws++;
            continue;
          }
          // Over MAX_MESSAGE_BYTES a frame closes the connection with 1009 (BAD-005): not sent here.
          if (Buffer.byteLength(frame) > maxMessageBytes) continue;
          ws.send(frame);
          tried.ws++;
          const parsed = parses(frame);
          const ours = parsed.ok && typeof parsed.value === 'object' && parsed.value !== null && (parsed.value as { ref?: unknown }).ref === ref;
          if (ours) expected.set(ref, { shape, input: item, frame });
          else {
            others++;
            unattributed.push(`${shape} ${show(frame)}`);
          }
        }
        const answers = () => ws.frames.items.filter(isAnswer);
        const counted = () => {
          const all = answers();
          const matched = all.filter((f) => 'ref' in f && typeof f.ref === 'string' && expected.has(f.ref)).length;
          return { matched, others: all.length - matched };
        };
        await ws.frames
          .until(() => !ws.isOpen || ws.invalid.length > 0 || (counted().matched >= expected.size && counted().others >= others), 'answers', 20_000)
          .catch(() => {
            const answered = new Set(answers().map((f) => ('ref' in f ? f.ref : undefined)));
            const missing = [...expected].filter(([ref]) => !answered.has(ref)).map(([, e]) => `${e.shape} ${show(e.frame)}`);
            throw new Error(
              `no answer within 20 s: ${counted().matched}/${expected.size} frames with a ref answered (missing: ${missing.join(' | ') || 'none'}); ` +
                `${counted().others}/${others} others; frames that failed ServerFrame: ${JSON.stringify(ws.invalid).slice(0, 2000)}; ` +
                `(sent without a ref of ours: ${unattributed.join(' | ')})`,
            );
          });
        expect(ws.invalid, 'every answer validates against ServerFrame (an error echoes `ref` only when it is a valid Ref)').toEqual([]);
        expect(ws.isOpen, `the connection stays open (closed: ${JSON.stringify(await Promise.race([ws.closed, sleep(10)]))})`).toBe(true);
        // A barrier: nothing answers twice.
        await ws.ping();
        const final = counted();
        expect(final, 'exactly one answer per frame').toEqual({ matched: expected.size, others: others + 1 });
        ws.expectAllValid();
        const byRef = new Map<string, Frame[]>();
        for (const f of answers()) {
          if ('ref' in f && typeof f.ref === 'string' && expected.has(f.ref)) byRef.set(f.ref, [...(byRef.get(f.ref) ?? []), f]);
          if (f.type === 'error') expect(INPUT_ERROR_CODES, `error code ${f.code}: ${f.message}`).toContain(f.code);
        }
        for (const [ref, { shape, input: item, frame }] of expected) {
          const got = byRef.get(ref)!;
          expect(got, `one answer to ${shape} ${show(frame)}`).toHaveLength(1);
          const answer = got[0]!;
          if (shape === 'data' && item.valid) {
            const deep = jsonTextDepth(item.text) > depthLimit;
            if (deep) expect(answer, `too deep: ${show(item.text)}`).toMatchObject({ type: 'error', code: 'bad_request' });
            else expect(answer.type, `valid data of depth ${jsonTextDepth(item.text)}: ${show(item.text)} -> ${JSON.stringify(answer)}`).toBe('ack');
          }
        }
        for (const f of answers()) {
          if (f.type === 'error' && !('ref' in f && typeof f.ref === 'string' && expected.has(f.ref))) {
            expect(['bad_json', 'bad_request', 'binary_not_supported'], `an unattributed error: ${JSON.stringify(f)}`).toContain(f.code);
          }
        }
      }

      async function httpOne(shape: HttpShape, item: FuzzInput): Promise<void> {
        const body = httpBodyFor(shape, item);
        const size = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
        const response = await fetch(topicUrl(topic), { method: 'POST', headers: { 'content-type': 'application/json' }, body: body as BodyInit });
        tried.http++;
        const text = await response.text();
        const what = `${shape} ${show(typeof body === 'string' ? body : Buffer.from(body).toString('latin1'))} -> ${response.status} ${text.slice(0, 300)}`;
        expect(response.status, what).toBeLessThan(500);
        expect(response.headers.get('content-type') ?? '', what).toMatch(/^application\/json/);
        const json = JSON.parse(text) as unknown;
        if (response.status < 300) {
          expect([200, 201], what).toContain(response.status);
          PublishResponse.parse(json);
        } else {
          expect(response.status, what).toBeGreaterThanOrEqual(400);
          const { error } = ErrorBody.parse(json);
          expect(INPUT_ERROR_CODES, what).toContain(error.code);
        }
        if (size > maxMessageBytes) expect(response.status, what).toBe(413);
        else if (shape === 'data' && item.valid) {
          expect(response.status, what).toBe(jsonTextDepth(item.text) > depthLimit ? 400 : 201);
        }
      }

      await fc.assert(
        fc.asyncProperty(
          fc.array(wsCase, { minLength: FUZZ_WS_PER_RUN, maxLength: FUZZ_WS_PER_RUN }),
          fc.array(httpCase, { minLength: FUZZ_HTTP_PER_RUN, maxLength: FUZZ_HTTP_PER_RUN }),
          async (wsCases, httpCases) => {
            const half = wsCases.length >> 1;
            const http = (async () => {
              const queue = [...httpCases];
              await Promise.all(
                Array.from({ length: FUZZ_HTTP_CONCURRENCY }, async () => {
                  for (let next = queue.shift(); next; next = queue.shift()) await httpOne(...next);
                }),
              );
            })();
            await Promise.all([wsBatch(clients[0]!, wsCases.slice(0, half)), wsBatch(clients[1]!, wsCases.slice(half)), http]);
            await bystander.check();
          },
        ),
        { numRuns: FUZZ_RUNS, endOnFailure: true, examples: [fuzzExamples()] },
      );
      expect(tried.ws + tried.http, `inputs tried (ws ${tried.ws}, http ${tried.http})`).toBeGreaterThanOrEqual(FUZZ_MIN_INPUTS);
      for (const ws of clients) await ws.close();
      await healthy();
      await bystander.check();
    },
    timeoutMs: 60_000,
  },

  {
    id: 'BAD-017',
    level: 'MUST',
    section: '11',
    title: 'count a chunked body in bytes as they arrive: a publish sent 1 byte per chunk is accepted at exactly MAX_MESSAGE_BYTES and refused with 413 one byte over',
    run: async () => {
      const { maxMessageBytes } = await serverLimits();
      const topic = uniqueTopic('dribble');
      const { cursor } = await poll(topic, { wait: 0 });
      // Multi-byte characters are split over chunks too: the body must be decoded whole.
      const bodyOf = (bytes: number) => {
        const base = JSON.stringify({ type: 'dribble', data: 'héllo € 𝄞 ' });
        return base.replace('𝄞 ', `𝄞 ${'x'.repeat(bytes - Buffer.byteLength(base))}`);
      };
      const exact = bodyOf(maxMessageBytes);
      expect(Buffer.byteLength(exact)).toBe(maxMessageBytes);
      const accepted = await dribble(topic, exact);
      expect(accepted?.status, `answer: ${accepted?.body.toString()}`).toBe(201);
      const { id } = PublishResponse.parse(JSON.parse(accepted!.body.toString()));
      const held = await poll(topic, { after: cursor, wait: 0 });
      expect(held.events.map((e) => [e.id, e.data])).toEqual([[id, JSON.parse(exact).data]]);

      const over = bodyOf(maxMessageBytes + 1);
      const refused = await dribble(topic, over);
      expect(refused, 'an answer before the connection closed').toBeDefined();
      expect(refused!.status).toBe(413);
      expect(ErrorBody.parse(JSON.parse(refused!.body.toString())).error.code).toBe('message_too_large');
      expect((await poll(topic, { after: id, wait: 0 })).events).toEqual([]);
      await healthy();
      await bystander.check();
    },
    timeoutMs: 60_000,
  },

  {
    id: 'BAD-018',
    level: 'MUST',
    section: '11',
    title: 'close with 1009 a WebSocket frame whose declared length exceeds MAX_MESSAGE_BYTES, before its payload arrives',
    run: async () => {
      const ws = await RawWebSocket.connect();
      // A text frame header declaring 60 MB, then 4 KB of it; the rest never comes.
      await ws.send({ opcode: 0x1, payload: Buffer.alloc(4096, 0x20), declaredLength: 60 * 1024 * 1024 });
      const code = await ws.closedBy();
      expect(code, 'the close frame the server sent (undefined: the connection dropped without one)').toBe(1009);
      await ws.raw.until(() => ws.raw.isClosed, 'the server to close the connection');
      await bystander.check();
    },
  },

  {
    id: 'BAD-019',
    level: 'MUST',
    section: '9',
    title: 'close with 1002 a WebSocket client frame that is not masked',
    run: async () => {
      const ws = await RawWebSocket.connect();
      await ws.send({ opcode: 0x1, payload: Buffer.from('{"type":"ping","ref":"unmasked"}'), mask: false });
      expect(await ws.closedBy(), 'the close frame the server sent').toBe(1002);
      expect(ws.texts(), 'the unmasked frame was not processed').not.toContainEqual(expect.objectContaining({ type: 'pong' }));
      await ws.raw.until(() => ws.raw.isClosed, 'the server to close the connection');
      await bystander.check();
    },
  },

  {
    id: 'BAD-020',
    level: 'MUST',
    section: '9',
    title: 'close with 1007 a WebSocket text frame that is not valid UTF-8',
    run: async () => {
      for (const bad of [[0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80]]) {
        const ws = await RawWebSocket.connect();
        const payload = Buffer.concat([Buffer.from('{"type":"ping","ref":"'), Buffer.from(bad), Buffer.from('"}')]);
        await ws.send({ opcode: 0x1, payload });
        expect(await ws.closedBy(), `the close frame for bytes ${JSON.stringify(bad)}`).toBe(1007);
        expect(ws.texts()).not.toContainEqual(expect.objectContaining({ type: 'pong' }));
        await ws.raw.until(() => ws.raw.isClosed, 'the server to close the connection');
      }
      await bystander.check();
    },
  },

  {
    id: 'BAD-021',
    level: 'MUST',
    section: '11',
    title: 'close (or answer 408) a request whose head or body does not arrive within REQUEST_TIMEOUT_MS, and keep serving long polls and WebSockets',
    run: async (ctx) => {
      needsCmd(ctx);
      const server = await ownServer({ REQUEST_TIMEOUT_MS: '1000' });
      const ws = await WsClient.connect(server.url);
      const topic = uniqueTopic('slowreq');
      const { cursor } = await poll(topic, { wait: 0 }, server.url);
      // A long poll takes longer than REQUEST_TIMEOUT_MS to answer: its request arrived whole, so it is not timed out.
      const held = fetch(`${topicUrl(topic, server.url)}?wait=3`);
      const halfHead = await RawSocket.connect(server.url);
      await halfHead.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
      const halfBody = await RawSocket.connect(server.url);
      await halfBody.write(requestHead('POST', `/v1/topics/${topic}/events`, { 'Content-Type': 'application/json', 'Content-Length': 200 }));
      await halfBody.write('{"type":"slow","data":"');
      // Well past the timeout (the server may check at an interval), yet far from any idle timeout.
      // A head may take the runtime's own fixed deadline where it has one (PROTOCOL.md §13: Bun's
      // is about 10 s, 12 s measured); a body's is always REQUEST_TIMEOUT_MS.
      const BODY_GIVE_MS = 5000;
      const HEAD_GIVE_MS = 15_000;
      const attacks = [
        ['half a request head', halfHead, HEAD_GIVE_MS],
        ['half a request body', halfBody, BODY_GIVE_MS],
      ] as const;
      const outcomes = await Promise.allSettled(
        attacks.map(([what, raw, give]) =>
          raw.until(() => raw.isClosed || /^HTTP\/1\.1 408/.test(raw.data.toString('latin1')), `the server to close or answer 408 to ${what}`, give),
        ),
      );
      const timedOut = outcomes.flatMap((o, i) => (o.status === 'rejected' ? [`${attacks[i]![0]} after ${attacks[i]![2]} ms`] : []));
      expect(timedOut, 'still open (REQUEST_TIMEOUT_MS=1000)').toEqual([]);
      for (const [what, raw] of attacks) {
        const response = raw.data.length > 0 ? parseHttpResponse(raw.data, true) : undefined;
        if (response) expect(response.status, `the answer to ${what}`).toBe(408);
        if (response && response.body.length > 0 && /json/.test(response.headers.get('content-type') ?? '')) {
          expect(ErrorBody.parse(JSON.parse(response.body.toString())).error.code).toBe('request_timeout');
        }
        raw.destroy();
      }
      const answer = await held;
      expect(answer.status).toBe(200);
      await answer.json();
      await ws.ping();
      expect(ws.isOpen).toBe(true);
      await ws.close();
      await healthy(server.url);
      // Nothing was published by the half body.
      expect((await poll(topic, { after: cursor, wait: 0 }, server.url)).events).toEqual([]);
      await server.stop();
    },
    timeoutMs: 40_000,
  },
  {
    id: 'BAD-022',
    level: 'MUST',
    section: '9',
    title: 'answer a query parameter an endpoint does not take with 400 bad_request naming it, on every endpoint, and accept every documented one',
    run: async () => {
      const topic = uniqueTopic('query');
      const { body: first } = await publish(topic, 'q', 1);
      // `since` is the natural typo for `after`: served silently it would replay from "now".
      const refusals: Array<[string, Promise<Response>]> = [
        ['poll', fetch(`${topicUrl(topic)}?since=${first.id}&wait=0`)],
        ['publish', fetch(`${topicUrl(topic)}?since=1`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"type":"q"}' })],
        ['sse', fetch(`${baseUrl()}/v1/events?topic=${topic}&since=${first.id}`)],
        ['healthz', fetch(`${baseUrl()}/healthz?since=1`)],
        ['metrics', fetch(`${baseUrl()}/metrics?since=1`)],
      ];
      for (const [endpoint, response] of refusals) {
        const error = await expectHttpError(response, 400, 'bad_request');
        expect(error.message, endpoint).toContain('since');
      }
      const ws = await upgradeStatus(`${wsUrl()}?since=1`);
      expect(ws.status).toBe(400);
      const wsError = ErrorBody.parse(JSON.parse(ws.body)).error;
      expect(wsError).toMatchObject({ code: 'bad_request' });
      expect(wsError.message).toContain('since');
      // Every documented parameter is still taken (token is ignored without auth).
      expect((await fetch(`${topicUrl(topic)}?after=${first.id}&wait=0&token=t`)).status).toBe(200);
      const sse = await fetch(`${baseUrl()}/v1/events?topic=${topic}&lastEventId=${first.id}&token=t`);
      expect(sse.status).toBe(200);
      await sse.body?.cancel();
      expect((await upgradeStatus(`${wsUrl()}?token=t`)).status).toBe(101);
      expect((await publish(topic, 'q', 2)).status).toBe(201);
      expect((await fetch(`${baseUrl()}/healthz`)).status).toBe(200);
      await bystander.check();
    },
  },

  {
    id: 'BAD-023',
    level: 'MUST',
    section: '9',
    title: 'close a frame over MAX_MESSAGE_BYTES with 1009 and the same reason on every runtime, whole or by its declared length',
    run: async () => {
      const { maxMessageBytes } = await serverLimits();
      const ws = await WsClient.connect();
      ws.send(JSON.stringify({ type: 'ping', ref: 'x'.repeat(maxMessageBytes) }));
      expect(await ws.closed).toEqual({ code: CloseCode.messageTooBig, reason: MESSAGE_TOO_BIG_REASON });
      const raw = await RawWebSocket.connect();
      await raw.send({ opcode: 0x1, payload: Buffer.alloc(1024, 0x20), declaredLength: 60 * 1024 * 1024 });
      expect(await raw.closedBy()).toBe(CloseCode.messageTooBig);
      expect(raw.closeReason).toBe(MESSAGE_TOO_BIG_REASON);
      raw.destroy();
      await bystander.check();
    },
  },
]);

/** POSTs `body` over a raw socket with Transfer-Encoding: chunked, one byte per chunk, in paced batches. */
async function dribble(topic: string, body: string, base = baseUrl()) {
  const raw = await RawSocket.connect(base);
  await raw.write(
    requestHead('POST', `/v1/topics/${encodeURIComponent(topic)}/events`, {
      'Content-Type': 'application/json',
      'Transfer-Encoding': 'chunked',
      Connection: 'close',
    }),
  );
  const bytes = Buffer.from(body);
  const BATCH = 512;
  for (let i = 0; i < bytes.length && !raw.isClosed; i += BATCH) {
    const parts: Buffer[] = [];
    for (let j = i; j < Math.min(i + BATCH, bytes.length); j++) parts.push(Buffer.from(`1\r\n${String.fromCharCode(bytes[j]!)}\r\n`, 'latin1'));
    await raw.write(Buffer.concat(parts));
    // Let each batch arrive in its own reads.
    await sleep(1);
  }
  await raw.write('0\r\n\r\n');
  const response = await raw.response();
  raw.destroy();
  return response;
}

export default area;
