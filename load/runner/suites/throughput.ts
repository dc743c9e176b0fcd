/**
 * Publish throughput (relaykit protocol): WebSocket or SSE subscribers on topic `tp`, then
 * WebSocket publishers that keep a window of 32 publish frames in flight each for the profile's
 * `throughputS`, once per count in `throughputSubscribers`: acks and deliveries per second, server CPU per publish and per delivered event
 * (server CPU / (acked publishes × subscribers), the fan-out cost issue 11 targets). A
 * `throughput` measurement.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { M } from '../../scenarios/env.ts';
import { round } from '../stats.ts';
import type { TargetDef } from '../targets.ts';
import { type SuiteEnv, errorsOf, measurement, phaseStart, serverCpuMs, snap, split, status, withServer } from './context.ts';

export async function throughputSuite(env: SuiteEnv, def: TargetDef, transport: 'ws' | 'sse', loadavg: number): Promise<void> {
  for (const subscribers of env.profile.throughputSubscribers) await throughputRun(env, def, transport, subscribers, loadavg);
}

/** One throughput measurement with `subscribers` subscribers, on a fresh server. */
async function throughputRun(env: SuiteEnv, def: TargetDef, transport: 'ws' | 'sse', subscribers: number, loadavg: number): Promise<void> {
  const { state, profile, pool } = env;
  await withServer(env, def, async (ctx) => {
    const base = ctx.server.base;
    state.log(`${def.id} ${transport}: publish throughput (${pool.size * profile.throughputConnsPerWorker} publishers, ${subscribers} subscribers, ${profile.throughputS} s)`);
    const subs = pool.run('subscribers', new Map([...split(subscribers, pool.size)].map(([i, count]) => [i, { base, protocol: def.protocol, transport, topics: ['tp'], holdMs: profile.maxLifetimeMs, count }])));
    subs.done.catch((e) => state.error(`${def.id} throughput: ${e}`, true));
    await state.withProgress(subs.ready('subscribed'), 60_000, async () => status(ctx, 'subscribing'));
    await snap(ctx, true, false);
    const start = phaseStart(ctx);
    const pubs = pool.run('throughput', new Map(Array.from({ length: pool.size }, (_, i) => [i, { base, protocol: def.protocol, connections: profile.throughputConnsPerWorker, topic: 'tp', window: 32, durationMs: profile.throughputS * 1000 }])));
    await state.withProgress(pubs.done, profile.throughputS * 1000 + 30_000, async () => status(ctx, 'publishing'));
    const cpuUsed = serverCpuMs(ctx) - start.cpu0;
    const s = await snap(ctx, true, false);
    subs.stop();
    await Promise.race([subs.done.catch(() => {}), sleep(10_000)]);
    await snap(ctx, true, false);
    const acked = s.counters[M.acked] ?? 0;
    const m = measurement(ctx, {
      target: def.id,
      scenario: 'throughput',
      transport,
      repeat: 1,
      loadavg1: loadavg,
      params: { publishers: pool.size * profile.throughputConnsPerWorker, window: 32, subscribers, durationS: profile.throughputS },
      figures: {
        ackedPerS: round(acked / profile.throughputS, 0),
        deliveredPerS: round((s.counters[M.delivered] ?? 0) / profile.throughputS, 0),
        usPerPublish: round((cpuUsed * 1000) / Math.max(1, acked), 2),
        usPerDelivered: round((cpuUsed * 1000) / Math.max(1, acked * subscribers), 3),
      },
      errors: errorsOf(ctx.totals),
      ...start,
    });
    state.measured(m);
    state.log(`  ${m.figures.ackedPerS} publishes/s acked, ${m.figures.deliveredPerS} deliveries/s, ${m.figures.usPerPublish} µs server CPU per publish, ${m.figures.usPerDelivered} µs per delivered event`);
  });
}
