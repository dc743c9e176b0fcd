import fc from 'fast-check';
import { expect } from 'vitest';
import { SseStream, WsClient, poll, publish, serverLimits, uniqueTopic } from '../harness/index.ts';
import { defineArea } from '../case.ts';

const area = defineArea('cross');

area.describe('cross-transport', [
  {
    id: 'X-001',
    level: 'MUST',
    section: '1',
    title: 'deliver an HTTP publish to WebSocket and SSE subscribers with the same envelope',
    run: async () => {
      const topic = uniqueTopic('h2x');
      const ws = await WsClient.connect();
      await ws.subscribe([topic]);
      const sse = await SseStream.open([topic]);
      const before = Date.now();
      const { body } = await publish(topic, 'from.http', { v: [1, 2, 3] });
      const after = Date.now();
      const [fromWs] = await ws.waitEvents(1);
      // Same machine, same clock: the broker time lies within the publish call (1 s of rounding slack).
      expect(fromWs!.time).toBeGreaterThanOrEqual(before - 1000);
      expect(fromWs!.time).toBeLessThanOrEqual(after + 1000);
      const [fromSse] = await sse.waitEnvelopes(1);
      expect(fromWs).toMatchObject({ id: body.id, topic, type: 'from.http', data: { v: [1, 2, 3] } });
      expect(fromSse).toEqual(fromWs);
      await Promise.all([ws.close(), sse.close()]);
    },
  },

  {
    id: 'X-002',
    level: 'MUST',
    section: '1',
    title: 'deliver a WebSocket publish to SSE subscribers and long polls',
    run: async () => {
      const topic = uniqueTopic('w2x');
      const sse = await SseStream.open([topic]);
      const { cursor } = await poll(topic, { wait: 0 });
      const pending = poll(topic, { after: cursor, wait: 20 });
      const publisher = await WsClient.connect();
      const ack = await publisher.publish(topic, 'from.ws', { ok: true });
      const [fromSse] = await sse.waitEnvelopes(1);
      const answer = await pending;
      expect(fromSse).toMatchObject({ id: ack.id, topic, type: 'from.ws', data: { ok: true } });
      expect(answer.events).toEqual([fromSse]);
      await Promise.all([publisher.close(), sse.close()]);
    },
  },

  {
    id: 'X-003',
    level: 'MUST',
    section: '1',
    title: 'give ids that increase strictly across topics, in the same sequence on every transport',
    run: async () => {
      const topics = [uniqueTopic('oa'), uniqueTopic('ob'), uniqueTopic('oc')];
      const ws = await WsClient.connect();
      await ws.subscribe(topics);
      const sse = await SseStream.open(topics);
      const cursors = await Promise.all(topics.map((t) => poll(t, { wait: 0 })));
      const publisher = await WsClient.connect();
      const ids: string[] = [];
      for (let i = 0; i < 15; i++) {
        const topic = topics[(i * 7) % 3]!;
        ids.push(i % 2 ? (await publish(topic, 'n', i)).body.id : (await publisher.publish(topic, 'n', i)).id);
      }
      const viaWs = (await ws.waitEvents(15)).map((e) => e.id);
      const viaSse = (await sse.waitEnvelopes(15)).map((e) => e.id);
      expect(viaWs).toEqual(ids);
      expect(viaSse).toEqual(ids);
      expect(new Set(ids).size).toBe(ids.length);
      // Each topic's poll returns that topic's subsequence, and the merge by id is the global order.
      // Any valid HISTORY_SIZE (or history bound) may hold fewer than the 5 events a topic got: then
      // the answer says so with `reset` and holds the newest of them, still in order.
      for (const [n, topic] of topics.entries()) {
        const answer = await poll(topic, { after: cursors[n]!.cursor, wait: 0 });
        const sent = ws.events(topic).map((e) => e.id);
        const got = answer.events.map((e) => e.id);
        if (answer.reset) {
          expect(answer.reset.topics).toContain(topic);
          expect(got).toEqual(sent.slice(sent.length - got.length));
        } else expect(got).toEqual(sent);
      }
      // The broker position seen by a new connection is the newest id.
      const late = await WsClient.connect();
      expect(late.welcome.position).toBe(ids[ids.length - 1]);
      await Promise.all([ws.close(), sse.close(), publisher.close(), late.close()]);
    },
  },

  {
    id: 'X-004',
    level: 'MUST',
    section: '1',
    title: 'give every subscriber the same sequence under concurrent publishers',
    run: async () => {
      const topics = [uniqueTopic('ca'), uniqueTopic('cb')];
      const subscribers = await Promise.all([WsClient.connect(), WsClient.connect()]);
      await Promise.all(subscribers.map((s) => s.subscribe(topics)));
      const sses = await Promise.all([SseStream.open(topics), SseStream.open([topics[0]!, topics[1]!])]);
      const publishers = await Promise.all([WsClient.connect(), WsClient.connect(), WsClient.connect()]);
      const perPublisher = 20;
      const acked: string[] = [];
      await Promise.all([
        ...publishers.map(async (p, n) => {
          for (let i = 0; i < perPublisher; i++) {
            p.send({ type: 'publish', topic: topics[i % 2], event: { type: 'c', data: { p: n, i } }, ref: i });
          }
          await p.frames.until((f) => f.filter((x) => x.type === 'ack').length >= perPublisher, `acks of publisher ${n}`);
          acked.push(...p.all('ack').map((a) => a.id));
        }),
        (async () => {
          for (let i = 0; i < perPublisher; i++) acked.push((await publish(topics[i % 2]!, 'c', { p: 'http', i })).body.id);
        })(),
      ]);
      const total = perPublisher * (publishers.length + 1);
      const sequences = [
        ...(await Promise.all(subscribers.map((s) => s.waitEvents(total)))),
        ...(await Promise.all(sses.map((s) => s.waitEnvelopes(total)))),
      ].map((events) => events.map((e) => e.id));
      for (const seq of sequences) expect(seq).toEqual(sequences[0]);
      expect(new Set(sequences[0]).size).toBe(total);
      expect([...sequences[0]!].sort()).toEqual([...acked].sort());
      // Each publisher's own events keep the order it sent them in.
      const events = subscribers[0]!.events();
      for (const n of [0, 1, 2, 'http']) {
        const mine = events.filter((e) => (e.data as { p: unknown }).p === n).map((e) => (e.data as { i: number }).i);
        expect(mine).toEqual(Array.from({ length: perPublisher }, (_, i) => i));
      }
      await Promise.all([...subscribers, ...publishers].map((c) => c.close()));
      await Promise.all(sses.map((s) => s.close()));
    },
  },

  {
    id: 'X-005',
    level: 'MUST',
    section: '1',
    title: 'round-trip arbitrary JSON data byte-exact through SSE, WebSocket and polling (property)',
    run: async () => {
      const { maxMessageBytes } = await serverLimits();
      const topic = uniqueTopic('prop');
      const ws = await WsClient.connect();
      await ws.subscribe([topic]);
      const sse = await SseStream.open([topic]);
      let count = 0;
      let cursor = (await poll(topic, { wait: 0 })).cursor;
      await fc.assert(
        fc.asyncProperty(fc.jsonValue({ maxDepth: 4 }), fc.boolean(), async (value, viaWs) => {
          const text = JSON.stringify(value);
          fc.pre(text.length * 3 + 200 < maxMessageBytes);
          if (viaWs) await ws.publish(topic, 'j', value);
          else await publish(topic, 'j', value);
          count++;
          const [fromWs, fromSse] = await Promise.all([ws.waitEvents(count), sse.waitEnvelopes(count)]);
          const answer = await poll(topic, { after: cursor, wait: 0 });
          cursor = answer.cursor;
          expect(answer.events).toHaveLength(1);
          // Byte-exact: the data the server sends back serialises to the very same JSON text.
          expect(JSON.stringify(fromWs![count - 1]!.data)).toBe(text);
          expect(JSON.stringify(fromSse![count - 1]!.data)).toBe(text);
          expect(JSON.stringify(answer.events[0]!.data)).toBe(text);
          const raw = sse.events().filter((e) => e.event === 'j')[count - 1]!.data;
          expect(raw.includes('\n') || raw.includes('\r'), 'one data: line').toBe(false);
        }),
        {
          numRuns: 40,
          endOnFailure: true,
          // Always tried: "__proto__" keys must survive every hop (a naive copy drops them).
          examples: [
            [JSON.parse('{"__proto__":{"q":1},"a":[{"__proto__":2}]}'), true],
            [JSON.parse('{"__proto__":{"q":1},"a":[{"__proto__":2}]}'), false],
          ],
        },
      );
      await Promise.all([ws.close(), sse.close()]);
    },
    timeoutMs: 60_000,
  },
]);

export default area;
