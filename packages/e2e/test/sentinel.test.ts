/**
 * Failover under load: a Node, a Bun and a Deno instance find their Redis through a Sentinel
 * (master, one replica, one Sentinel, all on loopback ports of the test's own). The master is
 * SIGKILLed while HTTP publishes go on round-robin; every instance must publish again within 15 s,
 * every live WebSocket subscriber must go on with no silent gap, and a resume from before the kill
 * must be reset exactly when it names an event the failover lost.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SpawnedServer } from '@relaykit/conformance/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { canConnect, freePort, startInstance } from './cluster.ts';
import { RUNTIMES, type Runtime, until } from './servers.ts';

const MASTER = 'relay';
const TOPIC = 'failover';
const children: ChildProcess[] = [];
const servers = new Map<Runtime, SpawnedServer>();
let dir: string;
let masterPort: number;
let master: ChildProcess;

const cli = (port: number, ...args: string[]) => execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { encoding: 'utf8' });
const epochOf = (id: string) => id.slice(0, id.lastIndexOf('-'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function redisServer(args: string[]): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...args], { stdio: 'ignore' });
  children.push(child);
  await until(`redis-server on ${port}`, () => canConnect(port));
  return { port, child };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'relaykit-e2e-sentinel-'));
  ({ port: masterPort, child: master } = await redisServer(['--dbfilename', 'master.rdb']));
  const replica = await redisServer(['--dbfilename', 'replica.rdb', '--replicaof', '127.0.0.1', String(masterPort)]);
  await until('the replica to sync', async () => /master_link_status:up/.test(cli(replica.port, 'INFO', 'replication')));
  const sentinelPort = await freePort();
  const conf = join(dir, 'sentinel.conf');
  writeFileSync(
    conf,
    [`port ${sentinelPort}`, 'bind 127.0.0.1', `dir ${dir}`, `sentinel monitor ${MASTER} 127.0.0.1 ${masterPort} 1`, `sentinel down-after-milliseconds ${MASTER} 1000`, `sentinel failover-timeout ${MASTER} 5000`, ''].join('\n'),
  );
  children.push(spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' }));
  await until('the Sentinel', () => canConnect(sentinelPort));
  await until('the Sentinel to know the replica', async () => new RegExp(`^${replica.port}$`, 'm').test(cli(sentinelPort, 'SENTINEL', 'REPLICAS', MASTER)));
  const env = { REDIS_SENTINELS: `127.0.0.1:${sentinelPort}`, REDIS_SENTINEL_MASTER: MASTER, HISTORY_SIZE: '100000' };
  await Promise.all(RUNTIMES.map(async (runtime) => servers.set(runtime, await startInstance(runtime, '', `sentinel${process.pid}:`, env))));
}, 60_000);

afterAll(async () => {
  await Promise.all([...servers.values()].map((s) => s.stop()));
  for (const child of children) child.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A raw WebSocket subscriber: events, reset frames and the close code. */
class Subscriber {
  readonly ids: string[] = [];
  readonly resets: string[][] = [];
  closeCode: number | undefined;
  private constructor(readonly ws: WebSocket) {}
  static async open(base: string, lastEventId?: string): Promise<Subscriber> {
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/v1/ws`, { perMessageDeflate: false });
    const sub = new Subscriber(ws);
    ws.on('close', (code) => (sub.closeCode = code));
    await new Promise<void>((resolve, reject) => {
      ws.on('message', (data) => {
        const frame = JSON.parse(data.toString()) as { type: string; event?: { id: string }; topics?: string[] };
        if (frame.type === 'welcome') ws.send(JSON.stringify({ type: 'subscribe', topics: [TOPIC], ref: 's', ...(lastEventId ? { lastEventId } : {}) }));
        if (frame.type === 'subscribed') resolve();
        if (frame.type === 'reset') sub.resets.push(frame.topics!);
        if (frame.type === 'event') sub.ids.push(frame.event!.id);
      });
      ws.on('error', reject);
    });
    return sub;
  }
  close() {
    this.ws.close();
  }
}

async function publish(base: string, n: number): Promise<string | undefined> {
  try {
    const response = await fetch(`${base}/v1/topics/${TOPIC}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'tick', data: n }),
      signal: AbortSignal.timeout(3_000),
    });
    if (response.status !== 201) {
      expect(response.status).toBe(503);
      return undefined;
    }
    return ((await response.json()) as { id: string }).id;
  } catch {
    return undefined;
  }
}

describe('Sentinel failover across Node, Bun and Deno', () => {
  it('every instance publishes again within 15 s of the master SIGKILL; no silent gap anywhere', async () => {
    const live = new Map<Runtime, Subscriber>();
    for (const runtime of RUNTIMES) live.set(runtime, await Subscriber.open(servers.get(runtime)!.url));
    const acks: { id: string; at: number; runtime: Runtime }[] = [];
    const firstAfter = new Map<Runtime, number>();
    let killedAt = 0;
    for (let n = 0; ; n++) {
      const runtime = RUNTIMES[n % RUNTIMES.length]!;
      const id = await publish(servers.get(runtime)!.url, n);
      if (id) {
        acks.push({ id, at: Date.now(), runtime });
        if (killedAt && !firstAfter.has(runtime)) firstAfter.set(runtime, Date.now() - killedAt);
      } else {
        await sleep(20);
      }
      if (!killedAt && acks.length >= 90) {
        master.kill('SIGKILL');
        killedAt = Date.now();
      }
      const after = acks.filter((a) => a.at > killedAt);
      if (killedAt && RUNTIMES.every((rt) => after.filter((a) => a.runtime === rt).length >= 5)) break;
      if (killedAt && Date.now() - killedAt > 20_000) break;
    }
    const recovery = Object.fromEntries(RUNTIMES.map((rt) => [rt, firstAfter.get(rt)]));
    for (const runtime of RUNTIMES) expect(firstAfter.get(runtime), `${runtime} published again`).toBeLessThan(15_000);

    // What the new master holds, through the Node instance: a resume from the old epoch's start.
    const oldEpoch = epochOf(acks[0]!.id);
    const oldAcks = acks.filter((a) => epochOf(a.id) === oldEpoch).map((a) => a.id);
    const newAcks = acks.filter((a) => epochOf(a.id) !== oldEpoch).map((a) => a.id);
    expect(newAcks.length).toBeGreaterThan(0);
    const last = newAcks.at(-1)!;
    const all = await Subscriber.open(servers.get('node')!.url, `${oldEpoch}-0`);
    await until('the replay to reach the last publish', async () => all.ids.includes(last));
    const held = new Set(all.ids);
    const lost = oldAcks.filter((id) => !held.has(id));
    expect(newAcks.every((id) => held.has(id))).toBe(true);
    all.close();

    // A resume from the last acknowledged id before the failover, on every runtime.
    for (const runtime of RUNTIMES) {
      const resumed = await Subscriber.open(servers.get(runtime)!.url, oldAcks.at(-1)!);
      await until(`${runtime}'s resume to reach the last publish`, async () => resumed.ids.includes(last));
      if (lost.length > 0) expect(resumed.resets, runtime).toEqual([[TOPIC]]);
      else {
        expect(resumed.resets, runtime).toEqual([]);
        expect(resumed.ids, runtime).toEqual(newAcks);
      }
      resumed.close();
    }

    // Live subscribers: everything in order, or closed to resume (4009) if they had seen a lost event.
    const closedToResume: Record<string, boolean> = {};
    for (const [runtime, sub] of live) {
      const sawLost = lost.some((id) => sub.ids.includes(id));
      if (sawLost) {
        await until(`${runtime}'s subscriber to be closed`, async () => sub.closeCode !== undefined);
        expect(sub.closeCode, runtime).toBe(4009);
      } else {
        await until(`${runtime}'s subscriber to get the last publish`, async () => sub.ids.includes(last));
        expect(sub.ids, runtime).toEqual([...oldAcks, ...newAcks]);
      }
      closedToResume[runtime] = sawLost;
      sub.close();
    }
    console.log(`[e2e sentinel failover] ${JSON.stringify({ recoveryMs: recovery, acked: acks.length, lost: lost.length, closedToResume })}`);
  }, 60_000);
});
