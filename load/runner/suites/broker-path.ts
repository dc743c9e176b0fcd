/**
 * The broker path alone: relaykit on Node, Bun and Deno up at once on one Redis (one cluster: one
 * key prefix), WebSocket publishers spread evenly over the three, each keeping the profile's
 * window of publish frames awaiting their ack, into topics nobody subscribes to (one per load
 * worker and instance), for `cluster.brokerS`. Every ack is a publish Redis took (relaykit acks
 * after its publish script ran: idempotency, id, XADD, PUBLISH). Acked publishes per second, the
 * three servers' CPU and Redis's own CPU per publish: one `broker` measurement, target
 * `relaykit-cluster`.
 */
import type { LoadMeasurement } from '@relaykit/contracts';
import { M } from '../../scenarios/env.ts';
import { Sampler, loadavg1, treeCpuMs } from '../proc.ts';
import type { RedisUnderTest } from '../redis.ts';
import { round } from '../stats.ts';
import { type RunningServer, type TargetDef, startServer } from '../targets.ts';
import { type SuiteEnv, errorsOf } from './context.ts';

export const BROKER_TARGET = 'relaykit-cluster';

export async function brokerPath(env: SuiteEnv, defs: TargetDef[], redis: RedisUnderTest, repeat: number): Promise<void> {
  const { state, profile, pool } = env;
  const c = profile.cluster;
  const prefix = `lb${repeat}:`;
  const servers: Array<{ def: TargetDef; server: RunningServer; sampler: Sampler }> = [];
  try {
    // Started together (each start is mostly the runtime loading its modules); any that did not start fails the phase.
    const started = await Promise.allSettled(defs.map((def) => startServer(def, { redis: { url: redis.url, prefix }, workers: 1 })));
    started.forEach((r, i) => {
      if (r.status !== 'fulfilled') return;
      state.running.add(r.value);
      servers.push({ def: defs[i]!, server: r.value, sampler: new Sampler(r.value.pid, 250, true) });
    });
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    const publishers = servers.length * pool.size * c.brokerConns;
    state.log(`broker path #${repeat}: ${defs.map((d) => d.id).join(' + ')} on one Redis, ${publishers} WebSocket publishers × ${c.brokerWindow} in flight, topics without subscribers, ${c.brokerS} s`);
    // The workers' CPU is reported per snapshot (since the one before): add up every snapshot's.
    let driverUs = 0;
    const take = async (reset: boolean) => {
      const snapshot = await pool.snapshot(reset, false);
      driverUs += snapshot.cpuUs;
      return snapshot;
    };
    await take(true);
    driverUs = 0;
    const loadavg = loadavg1();
    const t0 = Date.now();
    const cpu0 = servers.map((s) => treeCpuMs(s.server.pid));
    const redis0 = redis.cpuMs();
    const runs = servers.map(({ def, server }) =>
      pool.run('throughput', new Map(Array.from({ length: pool.size }, (_, i) => [i, { base: server.base, protocol: def.protocol, connections: c.brokerConns, topic: `bp-${def.runtime}-${i}`, window: c.brokerWindow, durationMs: c.brokerS * 1000, tag: def.runtime }]))),
    );
    await state.withProgress(Promise.all(runs.map((r) => r.done)), c.brokerS * 1000 + 30_000, async () => {
      const s = await take(false);
      return `broker path: ${s.counters[M.acked] ?? 0} acked (Redis RSS ${Math.round(redis.rssKb() / 1024)} MB)`;
    });
    const durationS = (Date.now() - t0) / 1000;
    const cpu = servers.map((s, i) => treeCpuMs(s.server.pid) - cpu0[i]!);
    const redisMs = redis.cpuMs() - redis0;
    const s = await take(true);
    const acked = s.counters[M.acked] ?? 0;
    const serverMs = cpu.reduce((a, b) => a + b, 0);
    const figures: Record<string, number> = {
      publishers,
      acked,
      ackedPerS: round(acked / c.brokerS, 0),
      usPerPublish: round((serverMs * 1000) / Math.max(1, acked), 2),
      redisCpuMs: round(redisMs, 1),
      redisUsPerPublish: round((redisMs * 1000) / Math.max(1, acked), 2),
      redisCores: round(redisMs / 1000 / c.brokerS, 2),
      redisRssKb: redis.rssKb(),
    };
    servers.forEach(({ def }, i) => {
      const own = s.counters[`${M.acked}_${def.runtime}`] ?? 0;
      figures[`ackedPerS_${def.runtime}`] = round(own / c.brokerS, 0);
      figures[`usPerPublish_${def.runtime}`] = round((cpu[i]! * 1000) / Math.max(1, own), 2);
      figures[`cores_${def.runtime}`] = round(cpu[i]! / 1000 / c.brokerS, 2);
    });
    const m: LoadMeasurement = {
      target: BROKER_TARGET,
      scenario: 'broker',
      transport: 'ws',
      repeat,
      startedAt: new Date(t0).toISOString(),
      durationS: round(durationS, 1),
      loadavg1: loadavg,
      params: { instances: defs.map((d) => d.id).join(','), publishers, window: c.brokerWindow, durationS: c.brokerS, loadavgAfter: loadavg1() },
      figures,
      errors: errorsOf(s.counters),
      // The three servers together: summed CPU and peak RSS (pid: the first instance's).
      server: { pid: servers[0]!.server.pid, cpuMs: serverMs, cpuCores: round(serverMs / 1000 / durationS, 2), rssPeakKb: servers.reduce((a, x) => a + x.sampler.peakKb, 0) },
      driver: { workers: pool.size, cpuMs: round(driverUs / 1000, 0), cpuCores: round(driverUs / 1e6 / durationS, 2) },
    };
    state.measured(m);
    const each = servers.map(({ def: d }) => `${d.runtime} ${figures[`ackedPerS_${d.runtime}`]}/s at ${figures[`usPerPublish_${d.runtime}`]} µs, ${figures[`cores_${d.runtime}`]} cores`);
    state.log(`  ${figures.ackedPerS} acked publishes/s (${each.join('; ')}); Redis ${figures.redisUsPerPublish} µs/publish, ${figures.redisCores} cores`);
  } catch (error) {
    state.error(`broker path #${repeat}: ${String((error as Error).stack ?? error).slice(0, 1500)}${servers.map((x) => `\n--- ${x.def.id} output ---\n${x.server.output().slice(-800)}`).join('')}`);
  } finally {
    for (const { server, sampler } of servers) {
      sampler.stop();
      await server.stop();
      state.running.delete(server);
    }
    state.save();
  }
}
