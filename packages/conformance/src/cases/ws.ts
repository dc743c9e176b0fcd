import { PROTOCOL_VERSION } from '@relaykit/contracts';
import { expect } from 'vitest';
import WebSocket from 'ws';
import { HealthResponse } from '@relaykit/contracts';
import { WsClient, baseUrl, publish, target, uniqueTopic, wsUrl } from '../harness/index.ts';
import { defineArea } from '../case.ts';

const area = defineArea('ws');

area.describe('ws', [
  {
    id: 'WS-001',
    level: 'MUST',
    section: '4',
    title: 'send a welcome frame first, with the version, limits, position and runtime',
    run: async () => {
      const ws = await WsClient.connect();
      const w = ws.welcome;
      expect(w.version).toBe(PROTOCOL_VERSION);
      expect(w.connectionId.length).toBeGreaterThan(0);
      const health = HealthResponse.parse(await (await fetch(`${baseUrl()}/healthz`)).json());
      expect(w.server).toBe(health.server);
      const env = JSON.parse(target().sharedEnv) as Record<string, string>;
      if (env.HEARTBEAT_MS) {
        expect(w.heartbeatMs).toBe(Number(env.HEARTBEAT_MS));
        expect(w.historySize).toBe(Number(env.HISTORY_SIZE));
        expect(w.maxMessageBytes).toBe(Number(env.MAX_MESSAGE_BYTES));
        expect(w.maxTopics).toBe(Number(env.MAX_TOPICS_PER_CONNECTION));
      }
      // The position is the newest id: after a publish the next welcome reports that id.
      const { body } = await publish(uniqueTopic('pos'), 'x', 1);
      const later = await WsClient.connect();
      expect(later.welcome.position).toBe(body.id);
      expect(later.welcome.connectionId).not.toBe(w.connectionId);
      await Promise.all([ws.close(), later.close()]);
      ws.expectAllValid();
    },
  },

  {
    id: 'WS-002',
    level: 'MUST',
    section: '4',
    title: 'answer subscribe with `subscribed` (echoing ref) before any replayed or live event',
    run: async () => {
      const topic = uniqueTopic('sub');
      const first = await publish(topic, 'old', 0);
      await publish(topic, 'old', 1);
      const ws = await WsClient.connect();
      ws.send({ type: 'subscribe', topics: [topic], lastEventId: first.body.id, ref: 7 });
      // A publish racing the subscribe must also come after `subscribed`.
      const racing = publish(topic, 'new', 2);
      await ws.waitEvents(2);
      await racing;
      const types = ws.frames.items.map((f) => f.type);
      expect(types.indexOf('subscribed')).toBeGreaterThan(0);
      expect(types.indexOf('subscribed')).toBeLessThan(types.indexOf('event'));
      expect(ws.all('subscribed')[0]).toEqual({ type: 'subscribed', topics: [topic], ref: 7 });
      await ws.close();
      ws.expectAllValid();
    },
  },

  {
    id: 'WS-003',
    level: 'MUST',
    section: '4',
    title: 'deliver a WebSocket publish to every subscriber, the publisher included',
    run: async () => {
      const topic = uniqueTopic('fan');
      const [a, b, c] = await Promise.all([WsClient.connect(), WsClient.connect(), WsClient.connect()]);
      await Promise.all([a.subscribe([topic]), b.subscribe([topic])]);
      const ack = await a.publish(topic, 'said', { text: 'hi' });
      for (const client of [a, b]) {
        const [event] = await client.waitEvents(1);
        expect(event).toMatchObject({ id: ack.id, topic, type: 'said', data: { text: 'hi' } });
      }
      await c.ping();
      expect(c.events(), 'a non-subscriber gets nothing').toEqual([]);
      await Promise.all([a.close(), b.close(), c.close()]);
    },
  },

  {
    id: 'WS-004',
    level: 'MUST',
    section: '4',
    title: 'send `ack` {ref,id} only for a publish that carries a ref',
    run: async () => {
      const topic = uniqueTopic('ack');
      const ws = await WsClient.connect();
      await ws.subscribe([topic]);
      ws.send({ type: 'publish', topic, event: { type: 'noref', data: 1 } });
      await ws.waitEvents(1);
      ws.send({ type: 'publish', topic, event: { type: 'withref', data: 2 }, ref: 'r-1' });
      const ack = await ws.next('ack');
      await ws.waitEvents(2);
      await ws.ping();
      expect(ws.all('ack')).toHaveLength(1);
      expect(ack).toEqual({ type: 'ack', ref: 'r-1', id: ws.events()[1]!.id });
      await ws.close();
    },
  },

  {
    id: 'WS-005',
    level: 'MUST',
    section: '4',
    title: 'answer ping with pong, echoing ref',
    run: async () => {
      const ws = await WsClient.connect();
      ws.send({ type: 'ping', ref: 42 });
      expect(await ws.next('pong')).toEqual({ type: 'pong', ref: 42 });
      ws.send({ type: 'ping' });
      await ws.frames.until((f) => f.filter((x) => x.type === 'pong').length === 2, 'second pong');
      expect(ws.all('pong')[1]).toEqual({ type: 'pong' });
      await ws.close();
    },
  },

  {
    id: 'WS-006',
    level: 'MUST',
    section: '4',
    title: 'stop delivery after unsubscribe (answered with `unsubscribed`)',
    run: async () => {
      const topic = uniqueTopic('unsub');
      const ws = await WsClient.connect();
      const witness = await WsClient.connect();
      await Promise.all([ws.subscribe([topic]), witness.subscribe([topic])]);
      await ws.publish(topic, 'a', 1);
      await ws.waitEvents(1);
      ws.send({ type: 'unsubscribe', topics: [topic], ref: 'u' });
      expect(await ws.next('unsubscribed')).toEqual({ type: 'unsubscribed', topics: [topic], ref: 'u' });
      await ws.publish(topic, 'b', 2);
      await publish(topic, 'c', 3);
      await witness.waitEvents(3);
      await ws.ping();
      expect(ws.events().map((e) => e.data)).toEqual([1]);
      await Promise.all([ws.close(), witness.close()]);
    },
  },

  {
    id: 'WS-007',
    level: 'MUST',
    section: '4',
    title: 'refuse a WebSocket upgrade on another path with a 404',
    run: async () => {
      const status = await new Promise<number>((resolve, reject) => {
        const ws = new WebSocket(wsUrl().replace('/v1/ws', '/v1/nope'));
        ws.on('unexpected-response', (_req, res) => {
          resolve(res.statusCode ?? 0);
          res.destroy();
        });
        ws.on('open', () => reject(new Error('upgrade on /v1/nope was accepted')));
        ws.on('error', () => {});
      });
      expect(status).toBe(404);
    },
  },

  {
    id: 'WS-008',
    level: 'MUST',
    section: '4',
    title: 'keep a topic subscribed twice as it is: no second replay, each event once',
    run: async () => {
      const topic = uniqueTopic('twice');
      const old = await publish(topic, 'old', 0);
      await publish(topic, 'old', 1);
      const ws = await WsClient.connect();
      await ws.subscribe([topic], { lastEventId: old.body.id });
      await ws.waitEvents(1);
      expect(await ws.subscribe([topic, topic], { lastEventId: old.body.id })).toMatchObject({ topics: [topic, topic] });
      await publish(topic, 'once', null);
      await ws.waitEvents(2);
      await ws.ping();
      expect(ws.events().map((e) => e.data)).toEqual([1, null]);
      await ws.close();
    },
  },
]);

export default area;
