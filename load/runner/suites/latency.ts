/**
 * Fan-out latency: the runner publishes `events` at the profile's rate (HTTP, publish time in
 * `data.t`) to the subscribers the connections suite holds, waits until every subscriber got
 * every event (up to 30 s), and reads the publish→deliver latency off the workers' merged
 * histograms: a `latency` measurement (p50/p90/p99/p99.9/max).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Metrics, createNodeEnv } from '../../driver/node-env.ts';
import type { LatencyHistogram } from '../../driver/histogram.ts';
import { M } from '../../scenarios/env.ts';
import type { Transport } from '../../scenarios/protocols.ts';
import { publisher } from '../../scenarios/publisher.ts';
import { round } from '../stats.ts';
import { type Ctx, errorsOf, measurement, pct, phaseStart, snap } from './context.ts';

const never = new Promise<void>(() => {});

export interface Published {
  published: number;
  publishErrors: number;
  /** The runner's own POST round trips. */
  publishMs: LatencyHistogram | undefined;
}

/** Publishes `events` at `rate`/s to the `bench` topic, then waits until `subscribers` × published were delivered (≤ 30 s). */
export async function publishAndDrain(ctx: Ctx, subscribers: number, rate: number, events: number): Promise<Published> {
  const metrics = new Metrics();
  const env = createNodeEnv({ metrics, onReady: () => {}, stopped: never });
  await publisher(env, { base: ctx.server.base, protocol: ctx.def.protocol, ...(ctx.def.apiKey ? { apiKey: ctx.def.apiKey } : {}), topic: 'bench', rate, events });
  await drain(ctx, (metrics.counters[M.published] ?? 0) * subscribers);
  return { published: metrics.counters[M.published] ?? 0, publishErrors: metrics.counters[M.publishErrors] ?? 0, publishMs: metrics.trends[M.publishMs] };
}

/** Waits until the workers counted `expected` deliveries since their last reset (≤ `timeoutMs`), polling every `pollMs`; returns the count. */
export async function drain(ctx: Ctx, expected: number, pollMs = 50, timeoutMs = 30_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const delivered = (await snap(ctx, false, false)).counters[M.delivered] ?? 0;
    if (delivered >= expected || Date.now() > deadline) return delivered;
    await sleep(pollMs);
  }
}

/** One latency measurement at `subscribers` held connections. */
export async function latencyPhase(ctx: Ctx, transport: Transport, repeat: number, subscribers: number, events: number): Promise<void> {
  const { state, profile } = ctx;
  const start = phaseStart(ctx, true);
  state.log(`  latency: ${events} events at ${profile.latencyRate}/s to ${subscribers} subscribers`);
  const pub = await publishAndDrain(ctx, subscribers, profile.latencyRate, events);
  const s = await snap(ctx, true, true);
  const lat = s.trends[M.deliverMs];
  const delivered = s.counters[M.delivered] ?? 0;
  const m = measurement(ctx, {
    target: ctx.def.id,
    scenario: 'latency',
    transport,
    repeat,
    loadavg1: start.load!,
    params: { subscribers, rate: profile.latencyRate, events },
    figures: {
      subscribers,
      events: pub.published,
      delivered,
      expected: pub.published * subscribers,
      p50Ms: pct(lat, 50),
      p90Ms: pct(lat, 90),
      p99Ms: pct(lat, 99),
      p999Ms: pct(lat, 99.9),
      maxMs: round(lat ? lat.max() : Number.NaN),
      publishP50Ms: pct(pub.publishMs, 50),
    },
    errors: { ...errorsOf(s.counters), [M.publishErrors]: pub.publishErrors, undelivered: Math.max(0, pub.published * subscribers - delivered) },
    ...start,
  });
  state.measured(m);
  state.log(`  latency p50 ${m.figures.p50Ms} ms, p99 ${m.figures.p99Ms} ms, max ${m.figures.maxMs} ms; delivered ${delivered}/${m.figures.expected}`);
}
