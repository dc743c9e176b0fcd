import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type EncodedEvent, type PublishInput, parseEventId } from '@relaykit/contracts';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Hub, Metrics, SetFanout, type TopicHolder } from '../src/adapter.js';
import { BrokerUnavailableError, RedisBroker, type RedisBrokerOptions } from '../src/redis-broker.js';
import { FreezingProxy, RedisServer, freePort } from './redis-server.js';

const input = (data: PublishInput['data'] = null): PublishInput => ({ type: 't', data });
const idsOf = (events: readonly EncodedEvent[]) => events.map((e) => e.envelope.id);
const seqOf = (id: string) => parseEventId(id)!.seq;
const epochOf = (id: string) => parseEventId(id)!.epoch;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await sleep(5);
  }
}

let redis: RedisServer;

/** The address Redis sees for the (single) subscriber connection. */
async function pubsubAddr(): Promise<string> {
  const list = (await redis.command(['CLIENT', 'LIST', 'TYPE', 'pubsub'])) as string;
  return /addr=(\S+)/.exec(list)![1]!;
}
const brokers: RedisBroker[] = [];

/** A connected broker on the test's Redis, closed after the test. */
async function open(options: Partial<RedisBrokerOptions> = {}): Promise<RedisBroker & { seen: string[] }> {
  const broker = new RedisBroker({ url: redis.url, historySize: 10, commandTimeoutMs: 500, pingIntervalMs: 200, ...options });
  await broker.connect();
  const seen: string[] = [];
  broker.setListener((event) => seen.push(event.envelope.id));
  brokers.push(broker);
  return Object.assign(broker, { seen });
}

beforeAll(async () => {
  redis = await RedisServer.start();
});
afterEach(async () => {
  await Promise.all(brokers.splice(0).map((b) => b.close()));
  await redis.command(['FLUSHALL']);
});
afterAll(async () => {
  await redis?.stop();
});

describe('RedisBroker ids, replay and resets (as MemoryBroker)', () => {
  it('assigns one increasing sequence across topics, and position follows', async () => {
    const broker = await open();
    const ids: string[] = [];
    for (const topic of ['a', 'b', 'a', 'c']) ids.push((await broker.publish(topic, input())).envelope.id);
    const epoch = epochOf(ids[0]!);
    expect(ids).toEqual([1, 2, 3, 4].map((seq) => `${epoch}-${seq}`));
    await until(() => broker.position() === `${epoch}-4`);
  });

  it('stores the frame byte-identical to eventFrame, with Redis time', async () => {
    const broker = await open();
    await broker.watch('a');
    const data = { text: 'h\u00e9\n"i"', n: [1.5, null, true], deep: { __proto__: 1 } };
    const before = Date.now();
    const { envelope } = await broker.publish('a', { type: 'msg.sent', data });
    const { events } = await broker.replay(['a'], `${epochOf(envelope.id)}-0`);
    expect(events[0]!.ws).toBe(JSON.stringify({ type: 'event', event: envelope }));
    expect(events[0]!.envelope).toEqual(envelope);
    expect(Math.abs(envelope.time - before)).toBeLessThan(1_000);
  });

  it('replays what came after an id, merged across topics in id order', async () => {
    const broker = await open();
    let epoch = '';
    for (const topic of ['a', 'b', 'a', 'c', 'b']) epoch = epochOf((await broker.publish(topic, input(topic))).envelope.id);
    const { events, resetTopics } = await broker.replay(['a', 'b'], `${epoch}-1`);
    expect(idsOf(events)).toEqual([2, 3, 5].map((s) => `${epoch}-${s}`));
    expect(resetTopics).toEqual([]);
  });

  it('resets exactly the topics whose missed events were trimmed', async () => {
    const broker = await open({ historySize: 2 });
    let epoch = '';
    for (let i = 0; i < 5; i++) epoch = epochOf((await broker.publish('busy', input(i))).envelope.id);
    await broker.publish('quiet', input('q')); // 6
    const fromStart = await broker.replay(['busy', 'quiet'], `${epoch}-1`);
    expect(fromStart.resetTopics).toEqual(['busy']);
    expect(idsOf(fromStart.events).map(seqOf)).toEqual([4, 5, 6]);
    // e-3 was trimmed, but nothing after it: no reset.
    expect((await broker.replay(['busy'], `${epoch}-3`)).resetTopics).toEqual([]);
    expect((await broker.replay(['busy'], `${epoch}-2`)).resetTopics).toEqual(['busy']);
  });

  it('treats ids from another epoch, malformed or from the future as uninterpretable', async () => {
    const broker = await open();
    const { envelope } = await broker.publish('a', input(1));
    const epoch = epochOf(envelope.id);
    for (const id of ['zz1-1', 'garbage', `${epoch}-99`]) {
      const { events, resetTopics } = await broker.replay(['a', 'empty'], id);
      expect(resetTopics).toEqual(['a', 'empty']);
      expect(idsOf(events)).toEqual([envelope.id]);
    }
  });

  it('with historySize=0 keeps nothing and resets any resume that missed events', async () => {
    const broker = await open({ historySize: 0 });
    const { envelope } = await broker.publish('a', input(1));
    const epoch = epochOf(envelope.id);
    expect(await broker.replay(['a'], `${epoch}-0`)).toEqual({ events: [], resetTopics: ['a'] });
    expect(await broker.replay(['a'], `${epoch}-1`)).toEqual({ events: [], resetTopics: [] });
    expect(seqOf((await broker.publish('a', input(2))).envelope.id)).toBe(2);
  });
});

describe('RedisBroker bounds: MAX_HISTORIES, idle expiry', () => {
  it('keeps at most maxHistories, dropping the least recently published; reset only before the dropped id', async () => {
    const broker = await open({ historySize: 5, maxHistories: 3 });
    let e = '';
    for (const topic of ['a', 'b', 'c']) e = epochOf((await broker.publish(topic, input())).envelope.id); // 1..3
    await broker.publish('a', input()); // 4
    await broker.publish('d', input()); // 5: b goes
    await until(() => broker.historyStats().histories === 3);
    expect(await broker.replay(['b'], `${e}-1`)).toMatchObject({ resetTopics: ['b'], events: [] });
    expect((await broker.replay(['b'], `${e}-2`)).resetTopics).toEqual([]);
    expect((await broker.replay(['never'], `${e}-0`)).resetTopics).toEqual([]);
    expect(idsOf((await broker.replay(['a', 'c', 'd'], `${e}-0`)).events).map(seqOf)).toEqual([1, 3, 4, 5]);
  });

  it('remembers dropped topics by a watermark once there are more than maxHistories of them', async () => {
    const broker = await open({ historySize: 5, maxHistories: 1 });
    let e = '';
    for (const topic of ['a', 'b', 'c', 'd']) e = epochOf((await broker.publish(topic, input())).envelope.id);
    expect((await broker.replay(['a'], `${e}-0`)).resetTopics).toEqual(['a']);
    expect((await broker.replay(['b'], `${e}-1`)).resetTopics).toEqual(['b']);
    expect((await broker.replay(['b'], `${e}-2`)).resetTopics).toEqual([]);
    // A topic published again starts from what was lost before it.
    await broker.publish('b', input()); // 5
    expect((await broker.replay(['b'], `${e}-1`)).resetTopics).toEqual(['b']);
    expect(idsOf((await broker.replay(['b'], `${e}-2`)).events).map(seqOf)).toEqual([5]);
  });

  it('expires an idle stream after ttlMs; a resume from before its last id is reset', async () => {
    const broker = await open({ ttlMs: 100 });
    const { envelope } = await broker.publish('old', input());
    const e = epochOf(envelope.id);
    await sleep(200);
    // Expired but not yet buried by a publish: its index entry still says what it lost.
    expect((await broker.replay(['old'], `${e}-0`)).resetTopics).toEqual(['old']);
    await broker.publish('new', input()); // buries 'old'
    expect(await redis.command(['ZRANGE', 'relaykit:idx', '0', '-1'])).toEqual(['new']);
    expect((await broker.replay(['old'], `${e}-0`)).resetTopics).toEqual(['old']);
    expect((await broker.replay(['old'], `${e}-1`)).resetTopics).toEqual([]);
  });
});

describe('RedisBroker as one broker across processes', () => {
  it('a publish on A reaches B with the same id, in order; B replays what A published', async () => {
    const [a, b] = [await open({ historySize: 100 }), await open({ historySize: 100 })];
    await b.watch('t');
    await b.watch('u');
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push((await a.publish(i % 3 ? 't' : 'u', input(i))).envelope.id);
    await until(() => b.seen.length === 20);
    expect(b.seen).toEqual(ids);
    expect(idsOf((await b.replay(['t', 'u'], `${epochOf(ids[0]!)}-0`)).events)).toEqual(ids);
    await until(() => b.position() === ids.at(-1));
  });

  it('an idempotency key is shared: a retry on another instance is a duplicate, delivered once', async () => {
    const [a, b] = [await open(), await open()];
    await a.watch('t');
    const first = await a.publish('t', { type: 't', data: 1, key: 'k1' });
    const again = await b.publish('t', { type: 't', data: 2, key: 'k1' });
    expect(again).toEqual({ envelope: first.envelope, duplicate: true });
    // Keys are per topic.
    expect((await b.publish('other', { type: 't', data: 3, key: 'k1' })).duplicate).toBe(false);
    await a.publish('t', input());
    await until(() => a.seen.length === 2);
    expect(a.seen[0]).toBe(first.envelope.id);
  });

  it('expires idempotency keys after idempotencyTtlMs, whatever the history size', async () => {
    const broker = await open({ historySize: 0, idempotencyTtlMs: 100 });
    const first = await broker.publish('t', { type: 't', data: 1, key: 'k' });
    expect((await broker.publish('t', { type: 't', data: 1, key: 'k' })).envelope.id).toBe(first.envelope.id);
    await sleep(150);
    expect((await broker.publish('t', { type: 't', data: 1, key: 'k' })).duplicate).toBe(false);
  });
});

describe('RedisBroker faults', () => {
  it('FLUSHALL: a new epoch; a resume from an old id is reset, live subscribers are told to resume', async () => {
    const gaps: string[][] = [];
    const broker = await open({ onGap: (t) => gaps.push(t) });
    await broker.watch('t');
    const old = (await broker.publish('t', input())).envelope.id;
    await redis.command(['FLUSHALL']);
    const fresh = (await broker.publish('t', input())).envelope.id;
    expect(epochOf(fresh)).not.toBe(epochOf(old));
    expect(seqOf(fresh)).toBe(1);
    const replay = await broker.replay(['t'], old);
    expect(replay.resetTopics).toEqual(['t']);
    expect(idsOf(replay.events)).toEqual([fresh]);
    // Not descended from the epoch they hold: their connections must resume (and be reset).
    await until(() => gaps.length === 1);
    expect(gaps).toEqual([['t']]);
    const later = (await broker.publish('t', input())).envelope.id;
    await until(() => broker.seen.includes(later));
    expect(broker.seen).toEqual([old, later]);
    await until(() => broker.position() === later);
  });

  it('another replication id (a promoted replica, here without a disconnect): the epoch is succeeded, ids stay valid, no gap', async () => {
    const gaps: string[][] = [];
    const broker = await open({ onGap: (t) => gaps.push(t) });
    await broker.watch('t');
    const before = [(await broker.publish('t', input(1))).envelope.id, (await broker.publish('t', input(2))).envelope.id];
    await until(() => broker.seen.length === 2);
    // REPLICAOF NO ONE gives the server a new replication id and keeps its data, as a promotion does.
    await redis.command(['REPLICAOF', '127.0.0.1', String(await freePort())]); // nothing listens there
    await redis.command(['REPLICAOF', 'NO', 'ONE']);
    const after = (await broker.publish('t', input(3))).envelope.id;
    expect(epochOf(after)).not.toBe(epochOf(before[0]!));
    expect(seqOf(after)).toBe(3); // the sequence goes on
    expect(broker.compareIds(before[1]!, after)).toBeLessThan(0);
    const resume = await broker.replay(['t'], before[0]!);
    expect(resume).toMatchObject({ resetTopics: [] });
    expect(idsOf(resume.events)).toEqual([before[1], after]);
    // An id of the old epoch beyond what the data kept names a lost event: reset.
    expect((await broker.replay(['t'], `${epochOf(before[0]!)}-3`)).resetTopics).toEqual(['t']);
    await until(() => broker.seen.includes(after));
    expect(broker.seen).toEqual([...before, after]);
    expect(gaps).toEqual([]);
    await until(() => broker.position() === after);
  });

  it('subscriber killed: re-subscribes and refills what was published meanwhile, no gap, no duplicate', async () => {
    const gaps: string[][] = [];
    const [sub, pub] = [await open({ onGap: (t) => gaps.push(t) }), await open()];
    await sub.watch('t');
    await sub.watch('u');
    const ids = [(await pub.publish('t', input())).envelope.id];
    await until(() => sub.seen.length === 1);
    await redis.command(['CLIENT', 'KILL', 'TYPE', 'pubsub']);
    for (let i = 0; i < 6; i++) ids.push((await pub.publish(i % 2 ? 't' : 'u', input(i))).envelope.id);
    await until(() => sub.seen.length >= 7);
    for (let i = 0; i < 3; i++) ids.push((await pub.publish('t', input(i))).envelope.id);
    await until(() => sub.seen.length >= 10);
    await sleep(50);
    expect(sub.seen).toEqual(ids);
    expect(gaps).toEqual([]);
    expect(sub.healthy).toBe(true);
  });

  it('reports onGap before anything more of a topic whose stream was trimmed past the last delivered event', async () => {
    // The outage is a frozen subscriber connection (replaced by the PING watchdog after ~400 ms),
    // so the publishes below surely fall inside it.
    const proxy = new FreezingProxy(redis.port);
    await proxy.start();
    try {
      const log: string[] = [];
      const sub = await open({ url: proxy.url, historySize: 2, commandTimeoutMs: 300, pingIntervalMs: 100, onGap: (t) => log.push(`gap:${t}`) });
      sub.setListener((event) => log.push(event.envelope.id));
      const pub = await open({ historySize: 2 });
      await sub.watch('t');
      await sub.watch('calm');
      const first = (await pub.publish('t', input())).envelope.id;
      await until(() => log.length === 1);
      expect(proxy.freezeAddr(await pubsubAddr())).toBe(true);
      for (let i = 0; i < 4; i++) await pub.publish('t', input(i)); // the first two are trimmed
      const calm = (await pub.publish('calm', input())).envelope.id;
      await until(() => log.includes('gap:t'));
      // Nothing of t from the hole; calm, which lost nothing, is refilled.
      expect(log).toEqual([first, 'gap:t', calm]);
      const later = (await pub.publish('t', input())).envelope.id;
      await until(() => log.includes(later));
    } finally {
      await proxy.stop();
    }
  });

  it('replaces a subscriber connection that silently stops (PING watchdog), and refills', async () => {
    const proxy = new FreezingProxy(redis.port);
    await proxy.start();
    try {
      const sub = await open({ url: proxy.url, commandTimeoutMs: 300, pingIntervalMs: 100 });
      await sub.watch('t');
      expect(proxy.freezeAddr(await pubsubAddr())).toBe(true);
      const connections = proxy.connections.length;
      const pub = await open();
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push((await pub.publish('t', input(i))).envelope.id);
      await until(() => sub.seen.length === 3);
      expect(sub.seen).toEqual(ids);
      expect(proxy.connections.length).toBe(connections + 1); // a fresh subscriber connection
    } finally {
      await proxy.stop();
    }
  });

  it('answers a publish within one command timeout while its subscriber link hangs, even behind another', async () => {
    const proxy = new FreezingProxy(redis.port);
    await proxy.start();
    try {
      // No watchdog during the test: the frozen link stays the subscriber.
      const broker = await open({ url: proxy.url, commandTimeoutMs: 500, pingIntervalMs: 60_000 });
      await broker.watch('t');
      expect(proxy.freezeAddr(await pubsubAddr())).toBe(true);
      // The first publish's delivery barrier (a PING on the frozen link) is in flight...
      const first = broker.publish('t', input(1));
      await sleep(200);
      // ...so the second one's waits for that one to time out, and not then for one of its own.
      const started = Date.now();
      await broker.publish('t', input(2));
      expect(Date.now() - started).toBeLessThan(500);
      await first;
    } finally {
      await proxy.stop();
    }
  });

  it('Redis down: publish, replay and watch reject with broker_unavailable within the timeout, then recover', async () => {
    const broker = await open({ commandTimeoutMs: 300 });
    await broker.watch('t');
    const before = (await broker.publish('t', input())).envelope.id;
    await redis.stop();
    await sleep(50);
    for (const call of [() => broker.publish('t', input()), () => broker.replay(['t'], before), () => broker.watch('u')]) {
      const started = Date.now();
      const error = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(BrokerUnavailableError);
      expect((error as BrokerUnavailableError).code).toBe('broker_unavailable');
      expect(Date.now() - started).toBeLessThan(450);
    }
    expect(broker.available()).toBe(false);
    await redis.start();
    await until(() => broker.available(), 10_000);
    const after = (await broker.publish('t', input())).envelope.id;
    expect(epochOf(after)).not.toBe(epochOf(before)); // restarted empty: a new epoch
    expect((await broker.replay(['t'], before)).resetTopics).toEqual(['t']);
    await until(() => broker.seen.includes(after));
  });

  it('Redis paused (SIGSTOP): calls time out instead of hanging; all well after SIGCONT', async () => {
    const broker = await open({ commandTimeoutMs: 300 });
    await broker.watch('t');
    redis.signal('SIGSTOP');
    try {
      const started = Date.now();
      await expect(broker.publish('t', input())).rejects.toMatchObject({ code: 'broker_unavailable' });
      expect(Date.now() - started).toBeLessThan(450);
    } finally {
      redis.signal('SIGCONT');
    }
    await until(() => broker.healthy, 10_000);
    const id = (await broker.publish('t', input())).envelope.id;
    await until(() => broker.seen.includes(id));
  });
});

class Recorder implements TopicHolder {
  readonly transport = 'ws' as const;
  closed = false;
  readonly seen: string[] = [];
  deliver(event: EncodedEvent) {
    this.seen.push(event.envelope.id);
    return 1;
  }
}

async function joinLive(hub: Hub<Recorder>, sub: Recorder, topics: string[], lastEventId: string | undefined): Promise<boolean> {
  const join = await hub.join(sub, topics, lastEventId);
  if (!join) return false;
  for (let event = join.next(); event; event = join.next()) sub.deliver(event);
  join.goLive(topics);
  return true;
}

describe('Hub join over RedisBroker: history to live with no gap and no duplicate', () => {
  it('holds for any interleaving of publishes with the join (publisher on another instance or the same)', async () => {
    const [broker, other] = [await open({ historySize: 100 }), await open({ historySize: 100 })];
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 8 }), fc.integer({ min: 0, max: 8 }), fc.boolean(), async (before, during, remote) => {
        const topic = `p${run++}`;
        const publisher = remote ? other : broker;
        const hub = new Hub(broker, new SetFanout<Recorder>(), new Metrics(() => 0));
        const published: string[] = [];
        for (let i = 0; i < before; i++) published.push((await publisher.publish(topic, input())).envelope.id);
        const resumeFrom = broker.position();
        for (let i = 0; i < 2; i++) published.push((await publisher.publish(topic, input())).envelope.id);
        const sub = new Recorder();
        const joining = joinLive(hub, sub, [topic], resumeFrom);
        const publishing = (async () => {
          for (let i = 0; i < during; i++) {
            published.push((await publisher.publish(topic, input())).envelope.id);
            await sleep(1);
          }
        })();
        expect(await joining).toBe(true);
        await publishing;
        const last = (await publisher.publish(topic, input())).envelope.id;
        published.push(last);
        await until(() => sub.seen.includes(last));
        expect(sub.seen).toEqual(published.filter((id) => broker.compareIds(id, resumeFrom) > 0));
        hub.leave(sub, topic);
      }),
      { numRuns: 20 },
    );
  });

  it('is live by the time the join resolves: a publish in the very next microtask is delivered', async () => {
    const broker = await open();
    const hub = new Hub(broker, new SetFanout<Recorder>(), new Metrics(() => 0));
    const first = (await broker.publish('a', input())).envelope.id;
    const sub = new Recorder();
    const joining = joinLive(hub, sub, ['a'], `${epochOf(first)}-0`);
    const racing = joining.then(() => broker.publish('a', input()));
    await joining;
    const second = (await racing).envelope.id;
    await until(() => sub.seen.length === 2);
    expect(sub.seen).toEqual([first, second]);
  });
});

describe('RedisBroker on every runtime', () => {
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  const script = fileURLToPath(new URL('./redis-runtime-check.ts', import.meta.url));
  const runtimes: [string, string[]][] = [
    ['bun', ['run', script]],
    ['deno', ['run', '-A', '--unstable-sloppy-imports', '--node-modules-dir=manual', script]],
  ];
  for (const [runtime, args] of runtimes) {
    it(`publishes, delivers and replays under ${runtime}`, () => {
      const result = spawnSync(`${root}node_modules/.bin/${runtime}`, args, {
        cwd: fileURLToPath(new URL('..', import.meta.url)),
        env: { ...process.env, REDIS_URL: redis.url },
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(result.stderr).not.toMatch(/error/i);
      const out = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as { ids: string[]; live: string[]; replayed: string[]; reset: string[] };
      expect(out.ids).toHaveLength(3);
      expect(out.live).toEqual(out.ids);
      expect(out.replayed).toEqual(out.ids);
      expect(out.reset).toEqual([]);
    }, 90_000);
  }
});
