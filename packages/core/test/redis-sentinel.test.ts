import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseEventId } from '@relaykit/contracts';
import { afterEach, describe, expect, it } from 'vitest';
import { RedisBroker, type RedisBrokerOptions } from '../src/redis-broker.js';
import { RedisServer, SentinelServer } from './redis-server.js';

// A master, one replica and one Sentinel (quorum 1) on loopback ports of the test's own; the
// master is SIGKILLed while a broker on the Sentinel publishes without pause.

const MASTER = 'm';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const epochOf = (id: string) => parseEventId(id)!.epoch;

async function until(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

interface Deployment {
  master: RedisServer;
  replica: RedisServer;
  sentinel: SentinelServer;
}
const running: (RedisServer | SentinelServer | RedisBroker | { stop(): void })[] = [];

async function deploy(): Promise<Deployment> {
  // A full sync writes an RDB file to the server's dir, even with saving off.
  const dir = mkdtempSync(join(tmpdir(), 'relaykit-replication-'));
  running.push({ stop: () => rmSync(dir, { recursive: true, force: true }) });
  const master = await RedisServer.start(['--dir', dir, '--dbfilename', 'master.rdb']);
  const replica = await RedisServer.start(['--dir', dir, '--dbfilename', 'replica.rdb', '--replicaof', '127.0.0.1', String(master.port)]);
  running.push(master, replica);
  await until(async () => /master_link_status:up/.test((await replica.command(['INFO', 'replication'])) as string), 10_000, 'the replica to sync');
  const sentinel = await SentinelServer.start(MASTER, master);
  running.push(sentinel);
  // A failover needs a replica the Sentinel knows (from the master's INFO) and finds healthy.
  await until(
    async () => {
      const replicas = (await sentinel.redis.command(['SENTINEL', 'REPLICAS', MASTER])) as string[][];
      return replicas.some((fields) => fields.includes(String(replica.port)) && fields[fields.indexOf('flags') + 1] === 'slave');
    },
    15_000,
    'the Sentinel to know the replica',
  );
  return { master, replica, sentinel };
}

async function open(d: Deployment, options: Partial<RedisBrokerOptions> = {}): Promise<RedisBroker & { seen: string[]; gaps: string[][] }> {
  const seen: string[] = [];
  const gaps: string[][] = [];
  const broker = new RedisBroker({
    sentinel: { nodes: [{ host: '127.0.0.1', port: d.sentinel.port }], masterName: MASTER, username: undefined, password: undefined, sentinelPassword: undefined },
    historySize: 100_000,
    commandTimeoutMs: 500,
    pingIntervalMs: 200,
    onGap: (topics) => gaps.push(topics),
    ...options,
  });
  running.push(broker);
  // connect() gives up waiting after commandTimeoutMs but goes on trying: on a loaded machine, wait for it.
  await broker.connect().catch(() => {});
  await until(() => broker.healthy, 10_000, 'the broker to connect');
  broker.setListener((event) => seen.push(event.envelope.id));
  return Object.assign(broker, { seen, gaps });
}

interface Ack {
  id: string;
  at: number;
}

/**
 * Publishes on topic `t` one after the other; `fault` runs once `warmup` acks are in. Returns once
 * 20 publishes succeeded after the fault (or 15 s passed).
 */
async function publishThrough(broker: RedisBroker, warmup: number, fault: (publish: (data: string) => Promise<void>) => Promise<void>) {
  const acks: Ack[] = [];
  const publish = async (data: string) => {
    acks.push({ id: (await broker.publish('t', { type: 't', data })).envelope.id, at: Date.now() });
  };
  let failures = 0;
  let faultAt = 0;
  let firstAfter = 0;
  for (let n = 0; ; n++) {
    try {
      const { envelope } = await broker.publish('t', { type: 't', data: n });
      acks.push({ id: envelope.id, at: Date.now() });
      if (faultAt && !firstAfter) firstAfter = Date.now();
    } catch (error) {
      expect((error as { code?: string }).code).toBe('broker_unavailable');
      failures++;
      await sleep(10);
    }
    if (!faultAt && acks.length >= warmup) {
      await fault(publish);
      faultAt = Date.now();
    }
    if (firstAfter && acks.filter((a) => a.at > faultAt).length >= 20) break;
    if (faultAt && Date.now() - faultAt > 15_000) break;
  }
  return { acks, failures, faultAt, firstAfter };
}

/** What a failover did to the acknowledged publishes, read back from the new master. */
async function audit(broker: RedisBroker & { seen: string[]; gaps: string[][] }, acks: Ack[]) {
  await until(() => broker.healthy, 10_000, 'the broker to be healthy');
  const oldEpoch = epochOf(acks[0]!.id);
  const held = (await broker.replay(['t'], `${oldEpoch}-0`)).events.map((e) => e.envelope.id);
  const kept = new Set(held);
  const oldAcks = acks.filter((a) => epochOf(a.id) === oldEpoch).map((a) => a.id);
  const newAcks = acks.filter((a) => epochOf(a.id) !== oldEpoch).map((a) => a.id);
  const lost = oldAcks.filter((id) => !kept.has(id));
  // Replication is asynchronous but in order: what the new master has is a prefix of what the old one acknowledged.
  expect(oldAcks.slice(0, oldAcks.length - lost.length)).toEqual(held.slice(0, oldAcks.length - lost.length));
  expect(newAcks.every((id) => kept.has(id))).toBe(true);
  const lastOld = oldAcks.at(-1)!;
  const resumeLast = await broker.replay(['t'], lastOld);
  const lastKept = oldAcks[oldAcks.length - lost.length - 1]!;
  const resumeKept = await broker.replay(['t'], lastKept);
  return { oldEpoch, newEpoch: newAcks[0] ? epochOf(newAcks[0]) : undefined, oldAcks, newAcks, lost, lastOld, resumeLast, lastKept, resumeKept };
}

afterEach(async () => {
  for (const item of running.splice(0).reverse()) await (item instanceof RedisBroker ? item.close() : item.stop());
});

describe('RedisBroker on Redis Sentinel', () => {
  it('master SIGKILLed under continuous publishing: publishes work again within 15 s, and nothing is lost silently', async () => {
    const d = await deploy();
    const broker = await open(d);
    await broker.watch('t');
    const run = await publishThrough(broker, 300, async () => d.master.stop());
    expect(run.firstAfter, 'a publish succeeded after the kill').toBeGreaterThan(0);
    const recoveryMs = run.firstAfter - run.faultAt;
    expect(recoveryMs).toBeLessThan(15_000);
    const a = await audit(broker, run.acks);
    // A new server holds the data: the epoch was succeeded, the sequence goes on.
    expect(a.newEpoch).toBeDefined();
    expect(a.newEpoch).not.toBe(a.oldEpoch);
    expect(broker.compareIds(a.lastOld, a.newAcks[0]!)).toBeLessThan(0);
    // A resume from the last acknowledged id: reset exactly when it names a lost event; else no gap.
    expect(a.resumeLast.resetTopics).toEqual(a.lost.length > 0 ? ['t'] : []);
    if (a.lost.length === 0) expect(a.resumeLast.events.map((e) => e.envelope.id)).toEqual(a.newAcks);
    expect(a.resumeKept.resetTopics).toEqual([]);
    expect(a.resumeKept.events.map((e) => e.envelope.id)).toEqual(a.newAcks);
    // The live subscriber followed the master: every later event, and a gap only if it had seen a lost one.
    await until(() => broker.seen.includes(a.newAcks.at(-1)!), 5_000, 'live delivery after the failover');
    const sawLost = a.lost.some((id) => broker.seen.includes(id));
    expect(broker.gaps).toEqual(sawLost ? [['t']] : []);
    if (!sawLost) expect(broker.seen).toEqual([...a.oldAcks, ...a.newAcks]);
    console.log(
      `[sentinel failover] ${JSON.stringify({ recoveryMs, failedPublishes: run.failures, ackedBeforeKill: run.acks.filter((x) => x.at <= run.faultAt).length, lost: a.lost.length, resetOnResume: a.resumeLast.resetTopics.length > 0, liveGap: broker.gaps.length > 0 })}`,
    );
  }, 60_000);

  it('a failover that lost acknowledged events (replica behind): resumes past what survived are reset, not gapped', async () => {
    const d = await deploy();
    const broker = await open(d);
    await broker.watch('t');
    const run = await publishThrough(broker, 100, async (publish) => {
      // The replication link is cut (the replica stopped, so it cannot reconnect, for less than
      // the Sentinel's down-after) while the master goes on acknowledging; then the master dies
      // before it could pass them on. (Stopping the replica alone loses nothing: the kernel's
      // socket buffers hold what the master sent.)
      d.replica.signal('SIGSTOP');
      await d.master.command(['CLIENT', 'KILL', 'TYPE', 'replica']);
      for (let i = 0; i < 20; i++) await publish(`unreplicated ${i}`);
      await d.master.stop();
      d.replica.signal('SIGCONT');
    });
    expect(run.firstAfter).toBeGreaterThan(0);
    const recoveryMs = run.firstAfter - run.faultAt;
    const a = await audit(broker, run.acks);
    expect(a.lost.length).toBeGreaterThanOrEqual(20);
    expect(a.newEpoch).not.toBe(a.oldEpoch);
    // The lost ids are never handed out again, and a resume from one of them is reset.
    expect(a.newAcks.some((id) => a.lost.includes(id))).toBe(false);
    expect(a.resumeLast.resetTopics).toEqual(['t']);
    // From the last event that survived, the resume goes on under the new epoch with no gap.
    expect(a.resumeKept.resetTopics).toEqual([]);
    expect(a.resumeKept.events.map((e) => e.envelope.id)).toEqual(a.newAcks);
    // The live subscriber had delivered lost events: its connections must resume (and be reset).
    await until(() => broker.gaps.length > 0, 5_000, 'onGap');
    expect(broker.gaps).toEqual([['t']]);
    console.log(`[sentinel failover, replica behind] ${JSON.stringify({ recoveryMs, failedPublishes: run.failures, lost: a.lost.length, resetOnResume: true, liveGap: true })}`);
  }, 60_000);
});

describe('RedisBroker on Redis Sentinel on every runtime', () => {
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  const script = fileURLToPath(new URL('./redis-runtime-check.ts', import.meta.url));
  const runtimes: [string, string[]][] = [
    ['bun', ['run', script]],
    ['deno', ['run', '-A', '--unstable-sloppy-imports', '--node-modules-dir=manual', script]],
  ];
  for (const [runtime, args] of runtimes) {
    it(`publishes, delivers and replays under ${runtime}`, async () => {
      const d = await deploy();
      const result = spawnSync(`${root}node_modules/.bin/${runtime}`, args, {
        cwd: fileURLToPath(new URL('..', import.meta.url)),
        env: { ...process.env, REDIS_URL: '', REDIS_SENTINELS: `127.0.0.1:${d.sentinel.port}`, REDIS_SENTINEL_MASTER: MASTER },
        encoding: 'utf8',
        timeout: 50_000,
      });
      expect(result.stderr).not.toMatch(/error/i);
      const out = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as { ids: string[]; live: string[]; replayed: string[]; reset: string[] };
      expect(out.ids).toHaveLength(3);
      expect(out.live).toEqual(out.ids);
      expect(out.replayed).toEqual(out.ids);
      expect(out.reset).toEqual([]);
    }, 60_000);
  }
});
