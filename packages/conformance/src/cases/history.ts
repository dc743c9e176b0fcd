import { HISTORY_DEFAULT_LIMIT } from '@relaykit/contracts';
import { expect } from 'vitest';
import {
  SseStream,
  WsClient,
  expectHttpError,
  history,
  historyUrl,
  poll,
  publish,
  publishMany,
  serverLimits,
  sleep,
  uniqueTopic,
} from '../harness/index.ts';
import { defineArea } from '../case.ts';

const area = defineArea('history');

const ids = (page: { events: { id: string }[] }) => page.events.map((e) => e.id);
const RESET = (topic: string) => ({ code: 'history_unavailable', topics: [topic] });

area.describe('history API', [
  {
    id: 'HIST-001',
    level: 'MUST',
    section: '7',
    title: 'answer GET /v1/topics/:topic/history with the newest `limit` held events of that topic only, oldest first, and the broker position',
    run: async () => {
      const topic = uniqueTopic('hist');
      const other = uniqueTopic('histother');
      const mine: string[] = [];
      for (let i = 0; i < 5; i++) {
        mine.push((await publish(topic, 'm', { i })).body.id);
        await publish(other, 'o', { i });
      }
      const last = (await publish(other, 'o', 'last')).body.id;
      const three = await history(topic, { limit: 3 });
      expect(ids(three)).toEqual(mine.slice(-3));
      expect(three.events.map((e) => [e.topic, e.type, e.data])).toEqual([2, 3, 4].map((i) => [topic, 'm', { i }]));
      expect(three.reset).toBeUndefined();
      // The position is the broker's, not the topic's: it covers the other topic's later events.
      expect(three.position).toBe(last);
      const all = await history(topic);
      expect(ids(all)).toEqual(mine);
      expect(all.reset).toBeUndefined();
      expect(ids(await history(uniqueTopic('histnone'))), 'a topic with no events has an empty history').toEqual([]);
    },
  },

  {
    id: 'HIST-002',
    level: 'MUST',
    section: '7',
    title: 'page back with `before`: pages chain to the first event with no gap, no duplicate and no reset when nothing was lost',
    run: async () => {
      const topic = uniqueTopic('histpage');
      const published: string[] = [];
      for (let i = 0; i < 7; i++) published.push((await publish(topic, 'p', i)).body.id);
      const pages: string[][] = [];
      let before: string | undefined;
      for (let n = 0; n < 5; n++) {
        const page = await history(topic, before === undefined ? { limit: 3 } : { limit: 3, before });
        expect(page.reset, `page ${n + 1}`).toBeUndefined();
        if (page.events.length === 0) break;
        pages.unshift(ids(page));
        before = page.events[0]!.id;
      }
      expect(pages).toEqual([published.slice(0, 1), published.slice(1, 4), published.slice(4, 7)]);
      const middle = await history(topic, { limit: 2, before: published[5]! });
      expect(ids(middle), '`before` is exclusive').toEqual(published.slice(3, 5));
    },
  },

  {
    id: 'HIST-003',
    level: 'MUST',
    section: '7',
    title: 'add the reset signal when the page is short because events left the history (HISTORY_SIZE), never for a full page',
    run: async () => {
      const { historySize } = await serverLimits();
      const topic = uniqueTopic('histreset');
      const published = await publishMany(topic, historySize + 3);
      const held = published.slice(-historySize);
      const full = await history(topic, { limit: historySize });
      expect(ids(full)).toEqual(held);
      expect(full.reset, 'a full page is complete').toBeUndefined();
      const short = await history(topic, { limit: historySize, before: held[held.length - 1]! });
      expect(ids(short)).toEqual(held.slice(0, -1));
      expect(short.reset, 'events before the oldest held one are gone').toEqual(RESET(topic));
      const beyond = await history(topic, { limit: 1, before: held[0]! });
      expect(ids(beyond)).toEqual([]);
      expect(beyond.reset).toEqual(RESET(topic));
      const fits = await history(topic, { limit: 2, before: held[2]! });
      expect(ids(fits)).toEqual(held.slice(0, 2));
      expect(fits.reset).toBeUndefined();
    },
  },

  {
    id: 'HIST-004',
    level: 'MUST',
    section: '7',
    title: 'make `position` a resume point: SSE, WebSocket and a poll from it get exactly the events published after the read',
    run: async () => {
      const topic = uniqueTopic('histlive');
      await publish(topic, 'old', 1);
      const page = await history(topic);
      expect(page.events).toHaveLength(1);
      const next = (await publish(topic, 'new', 2)).body.id;
      const sse = await SseStream.open([topic], { lastEventId: page.position });
      const ws = await WsClient.connect();
      await ws.subscribe([topic], { lastEventId: page.position });
      const answer = await poll(topic, { after: page.position, wait: 0 });
      expect(ids(answer)).toEqual([next]);
      expect(answer.reset).toBeUndefined();
      expect((await sse.waitEnvelopes(1)).map((e) => e.id)).toEqual([next]);
      expect((await ws.waitEvents(1)).map((e) => e.id)).toEqual([next]);
      const live = (await publish(topic, 'live', 3)).body.id;
      expect((await ws.waitEvents(2)).map((e) => e.id)).toEqual([next, live]);
      expect((await sse.waitEnvelopes(2)).map((e) => e.id)).toEqual([next, live]);
      await sleep(100);
      expect(sse.events().map((e) => e.event)).not.toContain('reset');
      expect(ws.all('reset')).toEqual([]);
      await Promise.all([sse.close(), ws.close()]);
    },
  },

  {
    id: 'HIST-005',
    level: 'MUST',
    section: '7',
    title: 'answer a `before` it cannot interpret (malformed, another broker lifetime, ahead of the broker) with no events and the reset signal, not an error',
    run: async () => {
      const topic = uniqueTopic('histstale');
      const { body } = await publish(topic, 'x', 1);
      const epoch = body.id.slice(0, body.id.lastIndexOf('-'));
      const seq = Number(body.id.slice(body.id.lastIndexOf('-') + 1));
      const otherEpoch = epoch === '0' ? '1' : '0';
      for (const before of ['not-an-id', `${otherEpoch}-${seq + 1}`, `${epoch}-${seq + 1_000_000}`]) {
        const page = await history(topic, { before });
        expect(page.events, before).toEqual([]);
        expect(page.reset, before).toEqual(RESET(topic));
      }
    },
  },

  {
    id: 'HIST-006',
    level: 'MUST',
    section: '7',
    title: 'refuse a bad history request with a JSON error: limit outside 1–HISTORY_SIZE or not an integer, an unknown parameter (400), an invalid topic (400), another method (405)',
    run: async () => {
      const { historySize } = await serverLimits();
      const topic = uniqueTopic('histbad');
      for (const limit of ['0', '-1', '1.5', 'ten', String(historySize + 1)]) {
        await expectHttpError(fetch(historyUrl(topic, { limit })), 400, 'bad_request');
      }
      const typo = historyUrl(topic);
      typo.searchParams.set('after', 'x');
      const error = await expectHttpError(fetch(typo), 400, 'bad_request');
      expect(error.message).toContain('after');
      await expectHttpError(fetch(historyUrl('bad topic')), 400, 'invalid_topic');
      const post = await fetch(historyUrl(topic), { method: 'POST', body: '{}' });
      expect(post.headers.get('allow')).toBe('GET');
      await expectHttpError(post, 405, 'method_not_allowed');
      expect(ids(await history(topic, { limit: Math.min(HISTORY_DEFAULT_LIMIT, historySize) }))).toEqual([]);
    },
  },
]);

export default area;
