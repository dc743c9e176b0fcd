/**
 * CPU per delivered event: the runner publishes the profile's `cpuEvents` at `cpuRate`/s to the
 * subscribers the connections suite holds and divides the server's CPU time (from /proc) by the
 * events delivered: a `cpu` measurement.
 */
import { M } from '../../scenarios/env.ts';
import type { Transport } from '../../scenarios/protocols.ts';
import { round } from '../stats.ts';
import { type Ctx, errorsOf, measurement, phaseStart, serverCpuMs, snap } from './context.ts';
import { publishAndDrain } from './latency.ts';

export async function cpuPhase(ctx: Ctx, transport: Transport, repeat: number, subscribers: number): Promise<void> {
  const { state, profile } = ctx;
  const start = phaseStart(ctx, true);
  const pub = await publishAndDrain(ctx, subscribers, profile.cpuRate, profile.cpuEvents);
  const cpuUsed = serverCpuMs(ctx) - start.cpu0;
  const s = await snap(ctx, true, false);
  const delivered = s.counters[M.delivered] ?? 0;
  const m = measurement(ctx, {
    target: ctx.def.id,
    scenario: 'cpu',
    transport,
    repeat,
    loadavg1: start.load!,
    params: { subscribers, rate: profile.cpuRate, events: profile.cpuEvents },
    figures: {
      subscribers,
      events: pub.published,
      delivered,
      serverCpuMs: cpuUsed,
      usPerEvent: round((cpuUsed * 1000) / Math.max(1, delivered), 2),
    },
    errors: { ...errorsOf(s.counters), [M.publishErrors]: pub.publishErrors, undelivered: Math.max(0, pub.published * subscribers - delivered) },
    ...start,
  });
  state.measured(m);
  state.log(`  CPU: ${m.figures.usPerEvent} µs of server CPU per delivered event (${delivered} delivered, driver ${m.driver.cpuCores} cores)`);
}
