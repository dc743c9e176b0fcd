import { PRESENCE_COALESCE_MS, type PresenceChange, type PresenceResponse } from '@relaykit/contracts';
import { expect } from 'vitest';
import {
  SseStream,
  WsClient,
  baseUrl,
  expectHttpError,
  needsCmd,
  ownServer,
  poll,
  presence,
  presenceUrl,
  publish,
  sleep,
  stopOwnServers,
  topicUrl,
  uniqueTopic,
} from '../harness/index.ts';
import { defineArea } from '../case.ts';

const area = defineArea('presence');

area.afterAll(stopOwnServers);

/** Reads presence until `check` holds (a Redis broker updates it a command later), at most 5 s. */
async function presenceUntil(topic: string, check: (p: PresenceResponse) => boolean, what: string, base?: string): Promise<PresenceResponse> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const state = await presence(topic, base);
    if (check(state)) return state;
    if (Date.now() > deadline) throw new Error(`presence of ${topic}: ${what}; last answer ${JSON.stringify(state)}`);
    await sleep(50);
  }
}

const ids = (p: PresenceResponse) => p.members.map((m) => m.connectionId).sort();
const changes = (ws: WsClient) => ws.all('presence').map((f) => [f.action, f.member.connectionId]);
const sseChanges = (s: SseStream) => s.presence().map((c: PresenceChange) => [c.action, c.member.connectionId]);

area.describe('presence', [
  {
    id: 'PRES-001',
    level: 'MUST',
    section: '14',
    title: 'list the WebSocket and SSE connections that hold a topic (ids from welcome and the Relaykit-Connection-Id header), not long polls, and drop a closed one',
    run: async () => {
      const topic = uniqueTopic('pres');
      const before = Date.now();
      const ws = await WsClient.connect();
      await ws.subscribe([topic, uniqueTopic('presother')]);
      // One read, no retry: a connection is a member from its `subscribed` or opening comment on (§14).
      expect(ids(await presence(topic)), 'listed once subscribed').toContain(ws.welcome.connectionId);
      const sse = await SseStream.open([topic]);
      const sseId = sse.response.headers.get('relaykit-connection-id');
      expect(sseId, 'an SSE stream names its connection').toBeTruthy();
      expect(sseId).not.toBe(ws.welcome.connectionId);
      expect(ids(await presence(topic)), 'listed once its opening comment arrived').toContain(sseId);
      const pending = poll(topic, { wait: 3 });
      const state = await presenceUntil(topic, (p) => p.count === 2, 'two members');
      expect(ids(state)).toEqual([ws.welcome.connectionId, sseId].sort());
      expect(state).toMatchObject({ topic, count: 2, users: 2, truncated: false });
      for (const member of state.members) {
        expect(member.transport).toBe(member.connectionId === sseId ? 'sse' : 'ws');
        expect(member.since).toBeGreaterThanOrEqual(before - 1_000);
        expect(member.user, 'auth is off: no user').toBeUndefined();
      }
      await sse.close();
      const after = await presenceUntil(topic, (p) => p.count === 1, 'the SSE stream gone');
      expect(ids(after)).toEqual([ws.welcome.connectionId]);
      await ws.close();
      await presenceUntil(topic, (p) => p.count === 0 && p.members.length === 0, 'nobody');
      await pending;
    },
  },

  {
    id: 'PRES-002',
    level: 'MUST',
    section: '14',
    title: 'answer a WebSocket `presence` frame with a presence_state frame holding what GET /v1/topics/:topic/presence answers, its ref echoed',
    run: async () => {
      const topic = uniqueTopic('presframe');
      const member = await WsClient.connect();
      await member.subscribe([topic]);
      const state = await presenceUntil(topic, (p) => p.count === 1, 'one member');
      const asker = await WsClient.connect();
      asker.send({ type: 'presence', topic, ref: 'who' });
      const answer = await asker.next('presence_state', (f) => f.ref === 'who');
      expect(answer).toEqual({ type: 'presence_state', ref: 'who', ...state });
      asker.send({ type: 'presence', topic: 'bad topic', ref: 'bad' });
      expect(await asker.next('error', (f) => f.ref === 'bad')).toMatchObject({ code: 'invalid_topic' });
      await Promise.all([member.close(), asker.close()]);
    },
  },

  {
    id: 'PRES-003',
    level: 'MUST',
    section: '14',
    title: 'send `presence` join and leave frames of other WebSocket and SSE connections to a WebSocket that subscribed with presence: true, and none without it',
    run: async () => {
      const topic = uniqueTopic('presjoin');
      const watcher = await WsClient.connect();
      await watcher.subscribe([topic], { presence: true });
      const plain = await WsClient.connect();
      await plain.subscribe([topic]);
      const ws = await WsClient.connect();
      await ws.subscribe([topic]);
      const sse = await SseStream.open([topic]);
      const sseId = sse.response.headers.get('relaykit-connection-id')!;
      await watcher.frames.until(() => changes(watcher).length >= 3, 'three joins');
      expect(changes(watcher).map(([action]) => action)).toEqual(['join', 'join', 'join']);
      // Its own join is not among them.
      expect(new Set(changes(watcher).map(([, id]) => id))).toEqual(new Set([plain.welcome.connectionId, ws.welcome.connectionId, sseId]));
      for (const frame of watcher.all('presence')) expect(frame.topic).toBe(topic);
      await ws.close();
      await sse.close();
      await watcher.frames.until(() => changes(watcher).length >= 5, 'two leaves');
      expect(changes(watcher).slice(3).sort()).toEqual([['leave', ws.welcome.connectionId], ['leave', sseId]].sort());
      await sleep(PRESENCE_COALESCE_MS * 2);
      expect(plain.all('presence'), 'no presence frames without presence: true').toEqual([]);
      await Promise.all([watcher.close(), plain.close()]);
    },
  },

  {
    id: 'PRES-004',
    level: 'MUST',
    section: '14',
    title: 'send joins and leaves to an SSE stream opened with presence=1 as `event: presence` without an id: line, which moves neither Last-Event-ID nor poll cursors',
    run: async () => {
      const topic = uniqueTopic('pressse');
      const first = await publish(topic, 'before', 1);
      const watcher = await SseStream.open([topic], { query: { presence: '1' }, lastEventId: first.body.id });
      const ws = await WsClient.connect();
      await ws.subscribe([topic]);
      await watcher.items.until(() => sseChanges(watcher).length >= 1, 'a join');
      expect(sseChanges(watcher)).toEqual([['join', ws.welcome.connectionId]]);
      await ws.close();
      await watcher.items.until(() => sseChanges(watcher).length >= 2, 'a leave');
      expect(sseChanges(watcher)[1]).toEqual(['leave', ws.welcome.connectionId]);
      const next = await publish(topic, 'after', 2);
      expect((await watcher.waitEnvelopes(1)).map((e) => e.id)).toEqual([next.body.id]);
      const cursor = await poll(topic, { after: first.body.id, wait: 0 });
      expect(cursor.events.map((e) => e.id), 'presence takes no event ids').toEqual([next.body.id]);
      await watcher.close(); // checks that no presence event carried an id
    },
  },

  {
    id: 'PRES-005',
    level: 'MUST',
    section: '14',
    title: `coalesce joins and leaves per ${PRESENCE_COALESCE_MS} ms: a connection that comes and goes within it produces neither`,
    run: async () => {
      const topic = uniqueTopic('presstorm');
      const watcher = await WsClient.connect();
      await watcher.subscribe([topic], { presence: true });
      const flickers: string[] = [];
      for (let i = 0; i < 5; i++) {
        const quick = await WsClient.connect();
        flickers.push(quick.welcome.connectionId);
        await quick.subscribe([topic]);
        await quick.close();
      }
      // A connection that stays: its join proves the batch was delivered.
      const stays = await WsClient.connect();
      await stays.subscribe([topic]);
      await watcher.frames.until(() => changes(watcher).some(([, id]) => id === stays.welcome.connectionId), 'the join of the one that stays');
      await sleep(PRESENCE_COALESCE_MS * 2);
      const seen = changes(watcher).map(([, id]) => id);
      // Each flicker came and went within one interval unless an interval ended between its join and leave.
      const flickered = flickers.filter((id) => seen.includes(id));
      for (const id of flickered) expect(changes(watcher).filter(([, x]) => x === id), `${id}: both or neither`).toHaveLength(2);
      expect(flickered.length, 'most flickers cancel out').toBeLessThanOrEqual(2);
      await Promise.all([watcher.close(), stays.close()]);
    },
  },

  {
    id: 'PRES-006',
    level: 'MUST',
    section: '14',
    title: 'above PRESENCE_MAX_MEMBERS keep only the counts (members [], truncated: true) and stop joins and leaves',
    run: async (ctx) => {
      needsCmd(ctx);
      const server = await ownServer({ PRESENCE_MAX_MEMBERS: '2' });
      const topic = uniqueTopic('prescap');
      const watcher = await WsClient.connect(server.url);
      await watcher.subscribe([topic], { presence: true });
      const second = await WsClient.connect(server.url);
      await second.subscribe([topic]);
      await watcher.frames.until(() => changes(watcher).length >= 1, 'the join under the cap');
      const full = await presenceUntil(topic, (p) => p.count === 2, 'two members', server.url);
      expect(full).toMatchObject({ truncated: false });
      expect(full.members).toHaveLength(2);
      const third = await WsClient.connect(server.url);
      await third.subscribe([topic]);
      const over = await presenceUntil(topic, (p) => p.count === 3, 'three members', server.url);
      expect(over).toMatchObject({ count: 3, users: 3, members: [], truncated: true });
      await third.close();
      await presenceUntil(topic, (p) => p.count === 2, 'back to two', server.url);
      await sleep(PRESENCE_COALESCE_MS * 2);
      expect(changes(watcher).map(([, id]) => id), 'no join or leave while over the cap').not.toContain(third.welcome.connectionId);
      await Promise.all([watcher.close(), second.close()]);
    },
  },

  {
    id: 'PRES-007',
    level: 'MUST',
    section: '14',
    title: 'refuse a bad presence request: unknown parameter or presence= value (400), invalid topic (400), another method (405), and `presence` as a published event type',
    run: async () => {
      const topic = uniqueTopic('presbad');
      const typo = presenceUrl(topic);
      typo.searchParams.set('limit', '5');
      await expectHttpError(fetch(typo), 400, 'bad_request');
      await expectHttpError(fetch(presenceUrl('bad topic')), 400, 'invalid_topic');
      const post = await fetch(presenceUrl(topic), { method: 'POST', body: '{}' });
      expect(post.headers.get('allow')).toBe('GET');
      await expectHttpError(post, 405, 'method_not_allowed');
      const url = new URL(`${baseUrl()}/v1/events`);
      url.searchParams.set('topic', topic);
      url.searchParams.set('presence', 'yes');
      await expectHttpError(fetch(url, { headers: { accept: 'text/event-stream' } }), 400, 'bad_request');
      await expectHttpError(fetch(topicUrl(topic), { method: 'POST', body: '{"type":"presence","data":1}' }), 400, 'invalid_event_type');
    },
  },
]);

export default area;
