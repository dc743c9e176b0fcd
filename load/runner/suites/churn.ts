/**
 * Connection churn: lanes that connect, wait until subscribed, close and start over for the
 * profile's `churnS`: cycles per second, cycle time p50/p99 (merged histograms), and the server's
 * RSS before and after. A `churn` measurement.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { M } from '../../scenarios/env.ts';
import type { Transport } from '../../scenarios/protocols.ts';
import { round } from '../stats.ts';
import type { TargetDef } from '../targets.ts';
import { type SuiteEnv, errorsOf, measurement, pct, phaseStart, snap, status, withServer } from './context.ts';

export async function churnSuite(env: SuiteEnv, def: TargetDef, transport: Transport, loadavg: number): Promise<void> {
  const { state, profile, pool } = env;
  await withServer(env, def, async (ctx) => {
    await sleep(300);
    const rssBefore = ctx.sampler.sample();
    const start = phaseStart(ctx);
    const lanes = pool.size * profile.churnConcurrencyPerWorker;
    state.log(`${def.id} ${transport}: connection churn (${lanes} lanes, ${profile.churnS} s)`);
    const r = pool.run('churn', new Map(Array.from({ length: pool.size }, (_, i) => [i, { base: ctx.server.base, protocol: def.protocol, ...(def.apiKey ? { apiKey: def.apiKey } : {}), transport, concurrency: profile.churnConcurrencyPerWorker, topics: ['churn'], durationMs: profile.churnS * 1000 }])));
    await state.withProgress(r.done, profile.churnS * 1000 + 30_000, async () => {
      const s = await snap(ctx, false, false);
      return status(ctx, `${s.counters[M.churnCycles] ?? 0} cycles`);
    });
    const s = await snap(ctx, true, true);
    await sleep(1000);
    const rssAfter = ctx.sampler.sample();
    const cycles = s.counters[M.churnCycles] ?? 0;
    const ms = s.trends[M.churnMs];
    const m = measurement(ctx, {
      target: def.id,
      scenario: 'churn',
      transport,
      repeat: 1,
      loadavg1: loadavg,
      params: { lanes, durationS: profile.churnS },
      figures: { cycles, cyclesPerS: round(cycles / profile.churnS, 0), p50Ms: pct(ms, 50), p99Ms: pct(ms, 99), rssBeforeKb: rssBefore, rssAfterKb: rssAfter },
      errors: errorsOf(ctx.totals),
      ...start,
    });
    state.measured(m);
    state.log(`  ${m.figures.cyclesPerS} connect→subscribe→close cycles/s, p99 ${m.figures.p99Ms} ms, RSS ${Math.round(rssBefore / 1024)} → ${Math.round(rssAfter / 1024)} MB`);
  });
}
