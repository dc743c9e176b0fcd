/**
 * @relaykit/client given the three URLs of one cluster (Node, Bun and Deno on one Redis): the
 * instance it is connected to is killed with SIGKILL while keyed events are published without
 * pause, by a plain HTTP publisher on the other instances and by the client itself. The client
 * moves to another URL and resumes from its last id: every event arrives once, in id order, and
 * the client's own publishes that were in flight at the kill land once each.
 */
import { type RelayClient, type ResetNotice, createClient } from '@relaykit/client';
import type { SpawnedServer } from '@relaykit/conformance/server';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type RedisProcess, startInstance, startRedis } from './cluster.ts';
import { RUNTIMES, type Runtime, sleep, until } from './servers.ts';

let redis: RedisProcess;
const prefix = `cluster-client${process.pid}:`;
const servers = new Map<Runtime, SpawnedServer>();
const alive = new Set<Runtime>();

async function start(runtime: Runtime): Promise<void> {
  const server = await startInstance(runtime, redis.url, prefix, { HISTORY_SIZE: '5000' });
  servers.set(runtime, server);
  alive.add(runtime);
  void server.exited.then(() => servers.get(runtime) === server && alive.delete(runtime));
}

beforeAll(async () => {
  redis = await startRedis();
  await Promise.all(RUNTIMES.map(start));
}, 90_000);

afterAll(async () => {
  await Promise.all([...servers.values()].map((s) => s.stop()));
  redis?.stop();
});

/** `<epoch>-<seq>`: one Redis broker, one epoch, so seq orders them (PROTOCOL.md §1). */
function seq(id: string): number {
  return Number(id.slice(id.lastIndexOf('-') + 1));
}

/** A keyed publish over HTTP to `base`; a lost answer would be retried with the same key. */
async function post(base: string, topic: string, key: string): Promise<string> {
  const response = await fetch(`${base}/v1/topics/${topic}/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'tick', data: { key }, key }),
  });
  if (response.status !== 201 && response.status !== 200) throw new Error(`publish answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { id: string }).id;
}

// Each transport starts (through the injected `random`) on a different instance, so each runtime is killed once.
const CASES = [
  ['sse', 'node'],
  ['ws', 'bun'],
  ['poll', 'deno'],
] as const;

describe('the client with the three URLs of a cluster', () => {
  test.each(CASES)('%s: the %s instance it is on is killed; it resumes on another URL with nothing lost or twice, in id order', async (kind, victim) => {
    for (const runtime of RUNTIMES) if (!alive.has(runtime)) await start(runtime);
    const urls = RUNTIMES.map((rt) => servers.get(rt)!.url);
    const victimUrl = servers.get(victim)!.url;
    const survivors = urls.filter((url) => url !== victimUrl);
    const topic = `cluster-client.${kind}.${Math.random().toString(36).slice(2, 8)}`;
    const startAt = (RUNTIMES.indexOf(victim) + 0.5) / RUNTIMES.length;

    const client: RelayClient = createClient({ url: urls, transport: kind, topics: [topic], random: () => startAt, backoff: { baseMs: 100 }, pollWaitS: 5 });
    const received: { id: string; key: string }[] = [];
    const resets: ResetNotice[] = [];
    const moves: string[] = [];
    client.on('event', (event) => received.push({ id: event.id, key: (event.data as { key: string }).key }));
    client.on('reset', (reset) => resets.push(reset));
    client.on('state', (state) => state.state === 'reconnecting' && moves.push(state.url));
    try {
      await until(`${kind} open`, () => client.state === 'open', 20_000);
      expect(client.url).toBe(victimUrl);

      const published = new Map<string, string>(); // key -> id
      let stop = false;
      // A plain publisher on the instances that stay up, without pause.
      const external = (async () => {
        for (let n = 0; !stop; n++) {
          const key = `${topic}:ext-${n}`;
          published.set(key, await post(survivors[n % survivors.length]!, topic, key));
        }
      })();
      // The client's own publishes, three at a time: some are in flight when its instance dies.
      const inFlight = new Set<string>();
      const own = [0, 1, 2].map(async (lane) => {
        for (let n = 0; !stop; n++) {
          const key = `${topic}:sdk-${lane}-${n}`;
          inFlight.add(key);
          published.set(key, await client.publish(topic, 'tick', { key }, { key }));
          inFlight.delete(key);
        }
      });

      await until('events before the kill', () => received.length >= 30, 20_000);
      servers.get(victim)!.signal('SIGKILL');
      const inFlightAtKill = [...inFlight];
      await servers.get(victim)!.exited;
      const receivedAtKill = received.length;
      await until('the client on another URL', () => client.state === 'open' && client.url !== victimUrl, 20_000);
      await until('events after the move', () => received.length >= receivedAtKill + 30, 20_000);
      stop = true;
      await Promise.all([external, ...own]);

      const expected = [...new Set(published.values())].sort((a, b) => seq(a) - seq(b));
      await until('every published event', () => received.length >= expected.length, 20_000);
      await sleep(500); // anything delivered twice would arrive now
      expect(resets).toEqual([]);
      expect(new Set(expected.map((id) => id.slice(0, id.lastIndexOf('-')))).size).toBe(1);
      expect(received.map((e) => e.id)).toEqual(expected);
      // one event per key: no publish was stored twice, none was lost
      expect(received.map((e) => e.key).sort()).toEqual([...published.keys()].sort());
      expect(inFlightAtKill.length).toBeGreaterThan(0);
      for (const key of inFlightAtKill) expect(received.filter((e) => e.key === key)).toHaveLength(1);
      expect(survivors).toContain(moves[0]);
      expect(survivors).toContain(client.url);
    } finally {
      client.close();
    }
  }, 120_000);
});
