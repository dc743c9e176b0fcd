// Broker.history, the same cases on both brokers: what GET /v1/topics/:topic/history answers.
import { type Broker, parseEventId } from '@relaykit/contracts';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBroker } from '../src/adapter.js';
import { RedisBroker } from '../src/redis-broker.js';
import { RedisServer } from './redis-server.js';

interface Limits {
  historySize: number;
  maxHistories?: number;
  ttlMs?: number;
}

const seqs = (page: { events: { id: string }[] }) => page.events.map((e) => parseEventId(e.id)!.seq);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let redis: RedisServer;
const open: Broker[] = [];
beforeAll(async () => {
  redis = await RedisServer.start();
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((b) => b.close()));
  await redis.command(['FLUSHALL']);
});
afterAll(async () => {
  await redis?.stop();
});

const makers: [string, (limits: Limits) => Promise<Broker>][] = [
  ['MemoryBroker', async (limits) => new MemoryBroker(limits)],
  [
    'RedisBroker',
    async (limits) => {
      const broker = new RedisBroker({ url: redis.url, commandTimeoutMs: 500, pingIntervalMs: 200, ...limits });
      await broker.connect();
      return broker;
    },
  ],
];

describe.each(makers)('%s.history', (_name, make) => {
  async function broker(limits: Limits): Promise<Broker & { idEpoch(): string; put(topic: string, n?: number): Promise<number[]> }> {
    const b = await make(limits);
    open.push(b);
    let epoch = '';
    const put = async (topic: string, n = 1) => {
      const out: number[] = [];
      for (let i = 0; i < n; i++) {
        const { envelope } = await b.publish(topic, { type: 't', data: { topic, i } });
        epoch = parseEventId(envelope.id)!.epoch;
        out.push(parseEventId(envelope.id)!.seq);
      }
      return out;
    };
    return Object.assign(b, { put, idEpoch: () => epoch });
  }

  it('returns the newest `limit` events of the topic, oldest first, and the broker position', async () => {
    const b = await broker({ historySize: 10 });
    await b.put('a', 3); // 1-3
    await b.put('b'); // 4
    await b.put('a', 2); // 5-6
    await b.put('b'); // 7
    const page = await b.history('a', 4);
    expect(seqs(page)).toEqual([2, 3, 5, 6]);
    expect(page.events[0]!.data).toEqual({ topic: 'a', i: 1 });
    expect(page.position).toBe(`${b.idEpoch()}-7`);
    expect(page.reset).toBe(false);
    expect(seqs(await b.history('a', 10))).toEqual([1, 2, 3, 5, 6]);
    expect(await b.history('none', 5)).toEqual({ events: [], position: `${b.idEpoch()}-7`, reset: false });
  });

  it('pages back with an exclusive `before`', async () => {
    const b = await broker({ historySize: 10 });
    await b.put('a', 5);
    expect(seqs(await b.history('a', 2, `${b.idEpoch()}-5`))).toEqual([3, 4]);
    expect(seqs(await b.history('a', 2, `${b.idEpoch()}-3`))).toEqual([1, 2]);
    expect(await b.history('a', 2, `${b.idEpoch()}-1`)).toMatchObject({ events: [], reset: false });
    expect(await b.history('a', 2, `${b.idEpoch()}-0`)).toMatchObject({ events: [], reset: false });
  });

  it('resets a short page when the topic lost events to HISTORY_SIZE, never a full one', async () => {
    const b = await broker({ historySize: 3 });
    await b.put('a', 5); // holds 3-5
    expect(await b.history('a', 3)).toMatchObject({ reset: false });
    const short = await b.history('a', 3, `${b.idEpoch()}-5`);
    expect(seqs(short)).toEqual([3, 4]);
    expect(short.reset).toBe(true);
    expect(await b.history('a', 2, `${b.idEpoch()}-3`)).toMatchObject({ events: [], reset: true });
  });

  it('with HISTORY_SIZE=0 holds nothing and resets a topic that had events', async () => {
    const b = await broker({ historySize: 0 });
    await b.put('a');
    expect(await b.history('a', 1)).toMatchObject({ events: [], reset: true });
    expect(await b.history('fresh', 1)).toMatchObject({ events: [], reset: false });
  });

  it('answers a `before` it cannot interpret with no events and reset', async () => {
    const b = await broker({ historySize: 10 });
    await b.put('a', 2);
    for (const before of ['garbage', 'zz1-1', `${b.idEpoch()}-99`]) {
      expect(await b.history('a', 5, before), before).toEqual({ events: [], position: `${b.idEpoch()}-2`, reset: true });
    }
  });

  it('resets a topic whose history was dropped (MAX_HISTORIES) or expired (HISTORY_TTL_MS)', async () => {
    const dropped = await broker({ historySize: 5, maxHistories: 2 });
    await dropped.put('a');
    await dropped.put('b');
    await dropped.put('c'); // drops a
    expect(await dropped.history('a', 5)).toMatchObject({ events: [], reset: true });
    expect(seqs(await dropped.history('c', 5))).toEqual([3]);
    await Promise.all(open.splice(0).map((x) => x.close()));
    await redis.command(['FLUSHALL']);
    const expiring = await broker({ historySize: 5, ttlMs: 100 });
    await expiring.put('old');
    await sleep(200);
    expect(await expiring.history('old', 5)).toMatchObject({ events: [], reset: true });
  });
});
