/**
 * The efficiency suite (`--suites scale`), one fresh server per target, transport and repeat:
 * open the profile's `connections` subscribed connections (memory per connection, connect time),
 * measure fan-out latency and CPU per delivered event at that count, then (first repeat) scale to
 * `maxConnections`, hold them, and measure latency there too. Its own record is the `connections`
 * measurement, pushed last; dropped connections by close code are among its figures.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { RunHandle } from '../../driver/pool.ts';
import { M } from '../../scenarios/env.ts';
import type { Transport } from '../../scenarios/protocols.ts';
import { safeCpuMs } from '../proc.ts';
import { round } from '../stats.ts';
import type { TargetDef } from '../targets.ts';
import { type SuiteEnv, errorsOf, measurement, pct, snap, split, status, withServer } from './context.ts';
import { cpuPhase } from './cpu.ts';
import { latencyPhase } from './latency.ts';

export async function connectionsSuite(env: SuiteEnv, def: TargetDef, transport: Transport, repeat: number, loadavg: number): Promise<void> {
  const { state, profile, pool } = env;
  const first = repeat === 1;
  await withServer(env, def, async (ctx) => {
    const pid = ctx.server.pid;
    const started = Date.now();
    const cpuStart = safeCpuMs(pid);
    await sleep(profile.name === 'full' ? 1500 : 300);
    const rssIdle = ctx.sampler.sample();
    const common = { base: ctx.server.base, protocol: def.protocol, ...(def.apiKey ? { apiKey: def.apiKey } : {}), transport, topics: ['bench'], holdMs: profile.maxLifetimeMs, maxInFlight: 128 };
    const open = (count: number): RunHandle => {
      const r = pool.run('subscribers', new Map([...split(count, pool.size)].map(([i, n]) => [i, { ...common, count: n }])));
      r.done.catch((e) => state.error(`${def.id} ${transport}: ${e}`, true));
      return r;
    };
    const n1 = profile.connections;
    state.log(`${def.id} ${transport} #${repeat}: opening ${n1} subscribed connections`);
    const runs = [open(n1)];
    const rampStart = Date.now();
    const progress = async () => {
      const s = await snap(ctx, false, false);
      return status(ctx, `${s.counters[M.connectOk] ?? 0} connected, ${s.counters[M.connectErrors] ?? 0} failed`);
    };
    await state.withProgress(runs[0]!.ready('subscribed'), 240_000, progress);
    const rampS = (Date.now() - rampStart) / 1000;
    await sleep(profile.settleMs);
    const s1 = await snap(ctx, true, true);
    const rss1 = ctx.sampler.sample();
    const connected1 = s1.counters[M.connectOk] ?? 0;
    const connectMs = s1.trends[M.connectMs];
    const figures: Record<string, number> = {
      n: n1,
      connected: connected1,
      rssIdleKb: rssIdle,
      rssKb: rss1,
      kbPerConn: round((rss1 - rssIdle) / Math.max(1, connected1), 2),
      rampS: round(rampS, 1),
      connectP50Ms: pct(connectMs, 50),
      connectP99Ms: pct(connectMs, 99),
    };
    state.log(`  ${connected1}/${n1} connected in ${round(rampS, 1)} s; ${figures.kbPerConn} KB/connection`);

    // Latency at N in every repeat (the report takes the median p99), fewer events after the first.
    await latencyPhase(ctx, transport, repeat, connected1, first ? profile.latencyEvents : Math.min(5, profile.latencyEvents));
    await cpuPhase(ctx, transport, repeat, connected1);

    if (first && profile.maxConnections > n1) {
      const more = profile.maxConnections - n1;
      state.log(`  scaling to ${profile.maxConnections}: opening ${more} more`);
      const r2 = open(more);
      runs.push(r2);
      await state.withProgress(r2.ready('subscribed'), 240_000, progress);
      await sleep(profile.settleMs);
      const rss2 = ctx.sampler.sample();
      state.log(`  holding for ${profile.holdS} s`);
      await sleep(profile.holdS * 1000);
      const s = await snap(ctx, true, false);
      figures.maxN = profile.maxConnections;
      figures.maxConnected = connected1 + (s.counters[M.connectOk] ?? 0);
      figures.maxRssKb = rss2;
      figures.kbPerConnAtMax = round((rss2 - rssIdle) / Math.max(1, figures.maxConnected), 2);
      figures.heldS = profile.holdS;
      state.log(`  ${figures.maxConnected}/${profile.maxConnections} held ${profile.holdS} s; ${figures.kbPerConnAtMax} KB/connection`);
      await latencyPhase(ctx, transport, repeat, figures.maxConnected, Math.min(3, profile.latencyEvents));
    }
    for (const r of runs) r.stop();
    await Promise.race([Promise.allSettled(runs.map((r) => r.done)), sleep(30_000)]);
    await snap(ctx, true, false);
    for (const [k, n] of Object.entries(ctx.totals)) if (k.startsWith('dropped_code_')) figures[k] = n;
    state.measured(
      measurement(ctx, {
        target: def.id,
        scenario: 'connections',
        transport,
        repeat,
        loadavg1: loadavg,
        params: { connections: n1, maxConnections: first ? profile.maxConnections : n1, workers: pool.size },
        figures,
        errors: errorsOf(ctx.totals),
        started,
        cpu0: cpuStart,
        driverCpuUs0: 0,
      }),
    );
  });
}
