import { type Envelope, POLL_PAGE_MAX_BYTES, POLL_PAGE_MAX_EVENTS, type PollResponse } from '@relaykit/contracts';
import { expect } from 'vitest';
import {
  WsClient,
  expectHttpError,
  needsCmd,
  ownServer,
  poll,
  publish,
  publishMany,
  sleep,
  stopOwnServers,
  topicUrl,
  uniqueTopic,
} from '../harness/index.ts';
import { defineArea } from '../case.ts';

const area = defineArea('poll');

area.afterAll(stopOwnServers);

const envelopeBytes = (events: Envelope[]) => events.reduce((n, e) => n + Buffer.byteLength(JSON.stringify(e)), 0);

/** Chains `after = cursor` from `after` until `count` events were read; checks each page's bounds. */
async function readPages(topic: string, after: string, count: number, base: string): Promise<PollResponse[]> {
  const pages: PollResponse[] = [];
  let cursor = after;
  let read = 0;
  while (read < count && pages.length < 2 * count + 2) {
    const page = await poll(topic, { after: cursor, wait: 5 }, base);
    const bytes = envelopeBytes(page.events);
    const what = `page ${pages.length + 1} of ${topic}: ${page.events.length} events, ${bytes} bytes`;
    expect(page.events.length, what).toBeGreaterThan(0);
    expect(page.events.length, what).toBeLessThanOrEqual(POLL_PAGE_MAX_EVENTS);
    // A page always holds its first event, whatever its size; past it, the byte bound holds.
    if (page.events.length > 1) expect(bytes, what).toBeLessThanOrEqual(POLL_PAGE_MAX_BYTES);
    expect(page.cursor, `${what}: the cursor is the last event's id`).toBe(page.events[page.events.length - 1]!.id);
    pages.push(page);
    read += page.events.length;
    cursor = page.cursor;
  }
  const end = await poll(topic, { after: cursor, wait: 0 }, base);
  expect(end.events, 'nothing after the last page').toEqual([]);
  expect(end.reset).toBeUndefined();
  return pages;
}

area.describe('poll', [
  {
    id: 'POLL-001',
    level: 'MUST',
    section: '6',
    title: 'hold a long poll open and answer with the event published meanwhile',
    run: async () => {
      const topic = uniqueTopic('long');
      const { cursor } = await poll(topic, { wait: 0 });
      const pending = poll(topic, { after: cursor, wait: 20 });
      let settled = false;
      void pending.then(() => (settled = true));
      await sleep(300);
      expect(settled, 'the poll waits while there is nothing').toBe(false);
      const { body } = await publish(topic, 'late', { x: 1 });
      const answer = await pending;
      expect(answer.events.map((e) => [e.id, e.type, e.data])).toEqual([[body.id, 'late', { x: 1 }]]);
      expect(answer.cursor).toBe(body.id);
      expect(answer.reset).toBeUndefined();
    },
  },

  {
    id: 'POLL-002',
    level: 'MUST',
    section: '6',
    title: 'answer wait=0 at once with what is held after `after`',
    run: async () => {
      const topic = uniqueTopic('short');
      const a = await publish(topic, 'e', 1);
      const b = await publish(topic, 'e', 2);
      const c = await publish(topic, 'e', 3);
      const answer = await poll(topic, { after: a.body.id, wait: 0 });
      expect(answer.events.map((e) => e.id)).toEqual([b.body.id, c.body.id]);
      expect(answer.cursor).toBe(c.body.id);
      const empty = await poll(topic, { after: c.body.id, wait: 0 });
      expect(empty.events).toEqual([]);
      expect(empty.cursor).toBe(c.body.id);
    },
  },

  {
    id: 'POLL-003',
    level: 'MUST',
    section: '6',
    title: 'return only new events when there is no `after`',
    run: async () => {
      const topic = uniqueTopic('new');
      await publish(topic, 'before', 1);
      const now = await poll(topic, { wait: 0 });
      expect(now.events).toEqual([]);
      const pending = poll(topic, { wait: 20 });
      await sleep(200);
      const { body } = await publish(topic, 'after', 2);
      const answer = await pending;
      expect(answer.events.map((e) => e.id)).toEqual([body.id]);
    },
  },

  {
    id: 'POLL-004',
    level: 'MUST',
    section: '6',
    title: 'lose nothing when cursors are chained while events are published',
    run: async () => {
      const topic = uniqueTopic('chain');
      const { cursor: start } = await poll(topic, { wait: 0 });
      const published: string[] = [];
      const publisher = (async () => {
        for (let i = 0; i < 40; i++) {
          published.push((await publish(topic, 'n', i)).body.id);
          if (i % 7 === 0) await sleep(15);
        }
      })();
      const received: string[] = [];
      let cursor = start;
      const deadline = Date.now() + 20_000;
      while (received.length < 40 && Date.now() < deadline) {
        const answer = await poll(topic, { after: cursor, wait: 5 });
        expect(answer.reset).toBeUndefined();
        received.push(...answer.events.map((e) => e.id));
        cursor = answer.cursor;
      }
      await publisher;
      expect(received).toEqual(published);
    },
  },

  {
    id: 'POLL-005',
    level: 'MUST',
    section: '6',
    title: 'answer a timed-out poll with no events and a cursor that loses nothing',
    run: async () => {
      const topic = uniqueTopic('timeout');
      const a = await publish(topic, 'x', 1);
      const answer = await poll(topic, { after: a.body.id, wait: 1 });
      expect(answer.events).toEqual([]);
      expect(answer.reset).toBeUndefined();
      const b = await publish(topic, 'x', 2);
      const next = await poll(topic, { after: answer.cursor, wait: 0 });
      expect(next.events.map((e) => e.id)).toEqual([b.body.id]);
      // Also without `after`: the cursor of an empty answer picks up exactly what follows.
      const fresh = await poll(topic, { wait: 1 });
      expect(fresh.events).toEqual([]);
      const c = await publish(topic, 'x', 3);
      const after = await poll(topic, { after: fresh.cursor, wait: 0 });
      expect(after.events.map((e) => e.id)).toEqual([c.body.id]);
    },
  },

  {
    id: 'POLL-006',
    level: 'MUST',
    section: '6',
    title: 'reject a bad `wait` with 400 bad_request',
    run: async () => {
      await expectHttpError(fetch(`${topicUrl('p')}?wait=abc`), 400, 'bad_request');
      await expectHttpError(fetch(`${topicUrl('p')}?wait=-1`), 400, 'bad_request');
      await expectHttpError(fetch(`${topicUrl('p')}?wait=100000`), 400, 'bad_request');
    },
  },

  {
    id: 'POLL-007',
    level: 'SHOULD',
    section: '6',
    title: 'mark poll answers as not cacheable',
    run: async () => {
      const response = await fetch(`${topicUrl(uniqueTopic('cache'))}?wait=0`);
      expect(response.status).toBe(200);
      expect(response.headers.get('cache-control') ?? '').toMatch(/no-store|no-cache/);
    },
  },

  {
    id: 'POLL-008',
    level: 'MUST',
    section: '6',
    title: 'give a poll the same envelopes (ids, data, time) as WebSocket subscribers',
    run: async () => {
      const topic = uniqueTopic('same');
      const ws = await WsClient.connect();
      await ws.subscribe([topic]);
      const { cursor } = await poll(topic, { wait: 0 });
      for (let i = 0; i < 3; i++) await publish(topic, 't', { i });
      const viaWs = await ws.waitEvents(3);
      const viaPoll = await poll(topic, { after: cursor, wait: 0 });
      expect(viaPoll.events).toEqual(viaWs);
      await ws.close();
    },
  },

  {
    id: 'POLL-009',
    level: 'MUST',
    section: '6',
    title: `answer a long poll with at most one page (${POLL_PAGE_MAX_EVENTS} events, ${POLL_PAGE_MAX_BYTES} bytes) whose cursor chains to the rest: in id order, none lost, none repeated`,
    run: async (ctx) => {
      needsCmd(ctx);
      const server = await ownServer({ MAX_MESSAGE_BYTES: '65536', HISTORY_SIZE: '300' });
      const url = server.url;
      const [small, large] = [uniqueTopic('pagesmall'), uniqueTopic('pagelarge')];
      const { cursor: start } = await poll(small, { wait: 0 }, url);
      const smallIds = await publishMany(small, 250, 'bulk', url);
      const largeIds: string[] = [];
      for (let i = 0; i < 10; i++) largeIds.push((await publish(large, 'big', { i, pad: 'p'.repeat(60_000) }, undefined, url)).body.id);
      for (const [topic, ids] of [[small, smallIds], [large, largeIds]] as const) {
        const pages = await readPages(topic, start, ids.length, url);
        const got = pages.flatMap((p) => p.events.map((e) => e.id));
        expect(got, `${topic}: every event once, in id order`).toEqual(ids);
        expect(pages.every((p) => p.reset === undefined)).toBe(true);
      }
      // 250 events take at least 3 pages; 10 events of 60 KB at least 3 (4 fit in 256 KiB).
      expect((await readPages(small, start, 250, url)).length).toBeGreaterThanOrEqual(3);
      expect((await readPages(large, start, 10, url)).length).toBeGreaterThanOrEqual(3);
      // A stale `after`: the reset comes with the first page only, and the chain goes on from its cursor.
      const first = await poll(small, { after: 'garbage', wait: 0 }, url);
      expect(first.reset).toEqual({ code: 'history_unavailable', topics: [small] });
      expect(first.events.length).toBeLessThanOrEqual(POLL_PAGE_MAX_EVENTS);
      expect(first.events.map((e) => e.id)).toEqual(smallIds.slice(0, first.events.length));
      const rest = await readPages(small, first.cursor, 250 - first.events.length, url);
      expect([...first.events, ...rest.flatMap((p) => p.events)].map((e) => e.id)).toEqual(smallIds);
      await server.stop();
    },
    timeoutMs: 60_000,
  },
]);

export default area;
