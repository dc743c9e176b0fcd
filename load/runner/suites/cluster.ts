/**
 * The cluster suite (`--suites cluster`; alone: `--profile cluster`): relaykit on one Redis
 * against relaykit in memory, WORKERS=N against WORKERS=1, and the peers on the same Redis.
 *
 * Fan-out: one fresh server per configuration and repeat, holding the profile's
 * `cluster.subscribers` WebSocket subscribers on one topic. Per runtime: in memory, on Redis with
 * WORKERS=1, on Redis with WORKERS=N (SO_REUSEPORT; CPU and RSS over the process tree); then
 * Centrifugo with its Redis engine and Socket.IO with its Redis adapter. Per configuration:
 * memory per connection; a paced phase (events at `rate`/s over HTTP: p50/p99 publish→deliver,
 * server CPU per delivered event, Redis CPU per publish); a burst phase (rounds of events as fast
 * as they go, each drained before the next: sustained deliveries/s). One `cluster` measurement.
 *
 * Broker path (broker-path.ts): the three runtimes at once on the same Redis. One `broker` measurement.
 *
 * Within a repeat the configurations of a runtime run back to back (memory, Redis, WORKERS=N),
 * so each ratio compares figures measured a minute apart; the report takes medians over repeats.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Metrics, createNodeEnv } from '../../driver/node-env.ts';
import type { RunHandle } from '../../driver/pool.ts';
import { M } from '../../scenarios/env.ts';
import { publisher } from '../../scenarios/publisher.ts';
import { loadavg1 } from '../proc.ts';
import type { RedisUnderTest } from '../redis.ts';
import { round } from '../stats.ts';
import type { ServerSetup, TargetDef } from '../targets.ts';
import { brokerPath } from './broker-path.ts';
import { type Ctx, type SuiteEnv, errorsOf, measurement, pct, phaseStart, serverCpuMs, snap, split, status, withServer } from './context.ts';
import { drain, publishAndDrain } from './latency.ts';

const never = new Promise<void>(() => {});

/** One fan-out configuration: a target, and on which broker with how many server processes. */
interface Config {
  def: TargetDef;
  broker: 'memory' | 'redis';
  workers: number;
}

/** The configurations of one repeat, in order: per relaykit runtime memory, Redis, Redis × N; then the peers on Redis. */
export function clusterConfigs(defs: TargetDef[], serverWorkers: number): Config[] {
  const out: Config[] = [];
  for (const rt of ['node', 'bun', 'deno'])
    for (const def of defs.filter((d) => d.kind === 'relaykit' && d.runtime === rt)) {
      out.push({ def, broker: 'memory', workers: 1 }, { def, broker: 'redis', workers: 1 });
      if (serverWorkers > 1 && def.supports.workers) out.push({ def, broker: 'redis', workers: serverWorkers });
    }
  for (const def of defs.filter((d) => d.kind === 'peer' && d.supports.redis)) out.push({ def, broker: 'redis', workers: 1 });
  return out;
}

export async function clusterSuite(env: SuiteEnv, defs: TargetDef[], redis: RedisUnderTest): Promise<void> {
  const { state, profile } = env;
  const c = profile.cluster;
  const configs = clusterConfigs(defs, c.serverWorkers);
  state.log(`cluster suite on ${redis.version} at ${redis.url}: ${configs.length} fan-out configurations × ${profile.repeats} repeats, ${c.subscribers} subscribers each, then the broker path`);
  for (let rep = 1; rep <= profile.repeats; rep++) {
    await state.gate(`cluster #${rep}`);
    for (const config of configs) await fanout(env, config, redis, rep);
    const relaykit = defs.filter((d) => d.kind === 'relaykit' && d.supports.redis);
    if (relaykit.length) await brokerPath(env, relaykit, redis, rep);
  }
}

/** A phase's figures and the failures it saw (publishes refused, events that never arrived). */
interface Phase {
  figures: Record<string, number>;
  publishErrors: number;
  undelivered: number;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
/** Redis CPU of a phase less what it spends idle in that time (never below 0). */
const aboveIdle = (ms: number, idleMsPerS: number, seconds: number) => Math.max(0, ms - idleMsPerS * seconds);
const label = (k: Config) => `${k.def.id} ${k.broker}${k.workers > 1 ? ` WORKERS=${k.workers}` : ''}`;

async function fanout(env: SuiteEnv, k: Config, redis: RedisUnderTest, repeat: number): Promise<void> {
  const { state, profile, pool } = env;
  const c = profile.cluster;
  // A key prefix per configuration and repeat: nothing one server left in Redis reaches the next.
  const setup: ServerSetup = { workers: k.workers, ...(k.broker === 'redis' ? { redis: { url: redis.url, prefix: `lc${repeat}-${k.def.id}-w${k.workers}:` } } : {}) };
  await withServer(
    env,
    k.def,
    async (ctx) => {
      const started = Date.now();
      const loadavg = loadavg1();
      const cpuStart = serverCpuMs(ctx);
      await sleep(profile.name === 'quick' ? 300 : 1500);
      const rssIdle = ctx.sampler.sample();
      state.log(`${label(k)} #${repeat}: opening ${c.subscribers} WebSocket subscribers`);
      const subs: RunHandle = pool.run(
        'subscribers',
        new Map([...split(c.subscribers, pool.size)].map(([i, count]) => [i, { base: ctx.server.base, protocol: k.def.protocol, ...(k.def.apiKey ? { apiKey: k.def.apiKey } : {}), transport: 'ws', topics: ['bench'], holdMs: profile.maxLifetimeMs, maxInFlight: 128, count }])),
      );
      subs.done.catch((e) => state.error(`${label(k)}: ${e}`, true));
      const rampStart = Date.now();
      await state.withProgress(subs.ready('subscribed'), 240_000, async () => {
        const s = await snap(ctx, false, false);
        return status(ctx, `${s.counters[M.connectOk] ?? 0} connected, ${s.counters[M.connectErrors] ?? 0} failed`);
      });
      const rampS = (Date.now() - rampStart) / 1000;
      // Redis's CPU while the subscribers sit idle: its own housekeeping plus the server's
      // keepalives, subtracted from the phases' Redis CPU to leave what the publishes cost it.
      const idle0 = { at: Date.now(), ms: redis.cpuMs() };
      await sleep(profile.settleMs);
      const redisIdleMsPerS = (redis.cpuMs() - idle0.ms) / ((Date.now() - idle0.at) / 1000);
      const ramp = await snap(ctx, true, true);
      const rss = ctx.sampler.sample();
      const connected = ramp.counters[M.connectOk] ?? 0;
      const figures: Record<string, number> = {
        n: c.subscribers,
        connected,
        rampS: round(rampS, 1),
        connectP99Ms: pct(ramp.trends[M.connectMs], 99),
        rssIdleKb: rssIdle,
        rssKb: rss,
        kbPerConn: round((rss - rssIdle) / Math.max(1, connected), 2),
        redisRssKb: redis.rssKb(),
        redisIdleCores: round(redisIdleMsPerS / 1000, 4),
      };
      const phases = [await paced(ctx, redis, connected, redisIdleMsPerS), await burst(ctx, redis, connected, redisIdleMsPerS)];
      for (const phase of phases) Object.assign(figures, phase.figures);
      subs.stop();
      await Promise.race([subs.done.catch(() => {}), sleep(30_000)]);
      await snap(ctx, true, false);
      for (const [key, n] of Object.entries(ctx.totals)) if (key.startsWith('dropped_code_')) figures[key] = n;
      const m = measurement(ctx, {
        target: k.def.id,
        scenario: 'cluster',
        transport: 'ws',
        repeat,
        loadavg1: loadavg,
        params: { broker: k.broker, workers: k.workers, subscribers: c.subscribers, rate: c.rate, events: c.events, burstS: c.burstS, loadWorkers: pool.size },
        figures,
        errors: { ...errorsOf(ctx.totals), [M.publishErrors]: sum(phases.map((p) => p.publishErrors)), undelivered: sum(phases.map((p) => p.undelivered)) },
        started,
        cpu0: cpuStart,
        driverCpuUs0: 0,
      });
      state.measured(m);
      const f = m.figures;
      state.log(
        `  ${f.kbPerConn} KB/conn; paced: p99 ${f.p99Ms} ms, ${f.usPerEvent} µs/event, Redis ${f.redisUsPerPublish} µs/publish; burst: ${f.burstDeliveredPerS} deliveries/s, ${f.burstUsPerEvent} µs/event (driver ${f.burstDriverCores} cores)`,
      );
    },
    setup,
  );
}

/** `rate`/s HTTP publishes (publish time in `data.t`), drained: latency, server and Redis CPU per delivered event. */
async function paced(ctx: Ctx, redis: RedisUnderTest, subscribers: number, redisIdleMsPerS: number): Promise<Phase> {
  const c = ctx.profile.cluster;
  const start = phaseStart(ctx);
  const redis0 = redis.cpuMs();
  const pub = await publishAndDrain(ctx, subscribers, c.rate, c.events);
  const cpu = serverCpuMs(ctx) - start.cpu0;
  const redisMs = redis.cpuMs() - redis0;
  const s = await snap(ctx, true, true);
  const seconds = (Date.now() - start.started) / 1000;
  const delivered = s.counters[M.delivered] ?? 0;
  const lat = s.trends[M.deliverMs];
  const figures = {
    events: pub.published,
    delivered,
    expected: pub.published * subscribers,
    p50Ms: pct(lat, 50),
    p90Ms: pct(lat, 90),
    p99Ms: pct(lat, 99),
    maxMs: round(lat ? lat.max() : Number.NaN),
    publishP50Ms: pct(pub.publishMs, 50),
    deliveredPerS: round(delivered / seconds, 0),
    serverCpuMs: cpu,
    usPerEvent: round((cpu * 1000) / Math.max(1, delivered), 2),
    serverCores: round(cpu / 1000 / seconds, 2),
    redisCpuMs: round(redisMs, 1),
    redisUsPerPublish: round((aboveIdle(redisMs, redisIdleMsPerS, seconds) * 1000) / Math.max(1, pub.published), 1),
    redisUsPerEvent: round((aboveIdle(redisMs, redisIdleMsPerS, seconds) * 1000) / Math.max(1, delivered), 3),
    driverCores: round((ctx.driverCpuUs - start.driverCpuUs0) / 1e6 / seconds, 2),
  };
  return { figures, publishErrors: pub.publishErrors, undelivered: Math.max(0, pub.published * subscribers - delivered) };
}

/**
 * Rounds of `burstDeliveries / subscribers` events published as fast as 16 requests in flight
 * allow, each round drained (every subscriber got every event) before the next, for `burstS`:
 * the deliveries per second the server sustains with what it queues per connection bounded.
 */
async function burst(ctx: Ctx, redis: RedisUnderTest, subscribers: number, redisIdleMsPerS: number): Promise<Phase> {
  const c = ctx.profile.cluster;
  const perRound = Math.max(1, Math.min(500, Math.round(c.burstDeliveries / Math.max(1, subscribers))));
  const metrics = new Metrics();
  const penv = createNodeEnv({ metrics, onReady: () => {}, stopped: never });
  const target = { base: ctx.server.base, protocol: ctx.def.protocol, ...(ctx.def.apiKey ? { apiKey: ctx.def.apiKey } : {}), topic: 'bench' };
  const start = phaseStart(ctx);
  const redis0 = redis.cpuMs();
  let rounds = 0;
  let delivered = 0;
  while (Date.now() - start.started < c.burstS * 1000) {
    await publisher(penv, { ...target, rate: 1e6, events: perRound, maxInFlight: 16 });
    rounds++;
    const expected = (metrics.counters[M.published] ?? 0) * subscribers;
    delivered = await drain(ctx, expected, 10);
    if (delivered < expected) break; // lost or stuck: counted as undelivered below
  }
  const seconds = (Date.now() - start.started) / 1000;
  const cpu = serverCpuMs(ctx) - start.cpu0;
  const redisMs = redis.cpuMs() - redis0;
  const s = await snap(ctx, true, false);
  delivered = s.counters[M.delivered] ?? 0;
  const published = metrics.counters[M.published] ?? 0;
  const figures = {
    burstEventsPerRound: perRound,
    burstRounds: rounds,
    burstEvents: published,
    burstDelivered: delivered,
    burstS: round(seconds, 2),
    burstDeliveredPerS: round(delivered / seconds, 0),
    burstUsPerEvent: round((cpu * 1000) / Math.max(1, delivered), 2),
    burstServerCores: round(cpu / 1000 / seconds, 2),
    burstRedisUsPerPublish: round((aboveIdle(redisMs, redisIdleMsPerS, seconds) * 1000) / Math.max(1, published), 1),
    burstRedisCores: round(redisMs / 1000 / seconds, 2),
    burstDriverCores: round((ctx.driverCpuUs - start.driverCpuUs0) / 1e6 / seconds, 2),
  };
  return { figures, publishErrors: metrics.counters[M.publishErrors] ?? 0, undelivered: Math.max(0, published * subscribers - delivered) };
}
