// RedisPresence: presence shared by the processes on one Redis, and members of a dead one expiring.
import type { PresenceMember } from '@relaykit/contracts';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisBroker } from '../src/redis-broker.js';
import { RedisServer } from './redis-server.js';

let redis: RedisServer;
const brokers: RedisBroker[] = [];
const member = (id: string): PresenceMember => ({ connectionId: id, transport: 'sse', since: Date.now() });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function open(): Promise<RedisBroker & { heard: string[] }> {
  const broker = new RedisBroker({ url: redis.url, historySize: 10, commandTimeoutMs: 500, pingIntervalMs: 200, presenceRefreshMs: 100 });
  await broker.connect();
  const heard: string[] = [];
  broker.presence.setListener((topic, action, m, count) => heard.push(`${topic} ${action} ${m.connectionId} ${count}`));
  brokers.push(broker);
  return Object.assign(broker, { heard });
}

async function until(check: () => boolean, ms = 3_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(10);
  }
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

describe('RedisPresence', () => {
  it('shares members across processes; joins and leaves reach every watching process once', async () => {
    const a = await open();
    const b = await open();
    await a.presence.watch('room');
    await b.presence.watch('room');
    await a.presence.add('room', member('a1'));
    await b.presence.add('room', member('b1'));
    await b.presence.add('room', member('b1')); // again: no second join
    expect((await a.presence.members('room')).map((m) => m.connectionId)).toEqual(['a1', 'b1']);
    await until(() => a.heard.length === 2 && b.heard.length === 2);
    expect(a.heard).toEqual(['room join a1 1', 'room join b1 2']);
    expect(b.heard).toEqual(a.heard);
    await b.presence.remove('room', 'b1');
    await until(() => a.heard.length === 3);
    expect(a.heard[2]).toBe('room leave b1 1');
    await a.presence.unwatch('room');
    await a.presence.add('room', member('a2'));
    await until(() => b.heard.length === 4);
    await sleep(100);
    expect(a.heard, 'unwatched: nothing more').toHaveLength(3);
  });

  it('expires the members of a process that stopped refreshing, publishing their leaves; live ones stay', async () => {
    const alive = await open();
    const dead = await open();
    await alive.presence.watch('room');
    await alive.presence.add('room', member('alive'));
    await dead.presence.add('room', member('gone'));
    // A process that dies sends no remove: closing stops its refresh and leaves its member behind.
    await dead.close();
    expect((await alive.presence.members('room')).map((m) => m.connectionId).sort()).toEqual(['alive', 'gone']);
    await until(() => alive.heard.includes('room leave gone 1'), 2_000);
    expect((await alive.presence.members('room')).map((m) => m.connectionId)).toEqual(['alive']);
    await sleep(400); // several ttls: a refreshed member never expires
    expect((await alive.presence.members('room')).map((m) => m.connectionId)).toEqual(['alive']);
  });
});
