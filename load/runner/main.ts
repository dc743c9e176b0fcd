/**
 * The load runner: starts each target (relaykit app, bare baseline, peer) one at a time on
 * loopback, drives it with the shared scenarios through load worker processes, samples the
 * server's RSS and CPU from /proc, and writes a LoadRun JSON (schema in @relaykit/contracts).
 * Everything is bounded in count and time and stops by itself.
 *
 *   node runner/main.ts --profile quick|full [--ci] [--only node,bun] [--targets id,id] [--docs]
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LoadRun, type LoadMeasurement, type LoadTarget } from '@relaykit/contracts';
import { createNodeEnv, Metrics } from '../driver/node-env.ts';
import { type Snapshot, WorkerPool } from '../driver/pool.ts';
import { ERROR_COUNTERS, M } from '../scenarios/env.ts';
import { publisher } from '../scenarios/publisher.ts';
import type { Transport } from '../scenarios/protocols.ts';
import { PROFILES, type Profile } from './profiles.ts';
import { Sampler, cpuMs, loadavg1 } from './proc.ts';
import { percentile, round, sortNumbers } from './stats.ts';
import { CENTRIFUGO_BIN, LOAD_DIR, ROOT, type RunningServer, type TargetDef, runtimeVersions, startServer, targetDefs } from './targets.ts';
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { renderReport } from '../report/render.ts';

const { values: args } = parseArgs({
  options: {
    profile: { type: 'string', default: 'quick' },
    ci: { type: 'boolean', default: false },
    only: { type: 'string' },
    targets: { type: 'string' },
    docs: { type: 'boolean', default: false },
    out: { type: 'string' },
    repeats: { type: 'string' },
    'no-gate': { type: 'boolean', default: false },
    connections: { type: 'string' },
    'cpu-prof': { type: 'string' },
    suites: { type: 'string', default: 'scale,throughput,churn' },
    transports: { type: 'string', default: 'ws,sse' },
  },
});
if (args.profile !== 'quick' && args.profile !== 'full') throw new Error(`--profile must be quick or full, not ${args.profile}`);
const profile: Profile = { ...PROFILES[args.profile] };
if (args.repeats) profile.repeats = Number(args.repeats);
if (args['no-gate']) profile.loadGateMs = profile.firstGateMs = 0;
if (args.connections) profile.connections = profile.maxConnections = Number(args.connections);
if (args['cpu-prof']) process.env.RELAYKIT_LOAD_CPU_PROF = args['cpu-prof'];
const suites = new Set(args.suites.split(','));
const transportsWanted = new Set(args.transports.split(','));
const onlyRuntimes = args.only?.split(',');
const onlyTargets = args.targets?.split(',');
const t0 = Date.now();
const clock = () => {
  const s = Math.floor((Date.now() - t0) / 1000);
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
};
const log = (msg: string) => console.log(`[${clock()}] ${msg}`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const never = new Promise<void>(() => {});

// ---- run state ---------------------------------------------------------------------------------

const outDir = args.out ?? join(LOAD_DIR, 'results');
mkdirSync(outDir, { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const outFile = join(outDir, `run-${profile.name}-${stamp}.json`);
const versions = runtimeVersions();
const defs = targetDefs().filter(
  (d) => (!onlyRuntimes || onlyRuntimes.includes(d.runtime) || d.kind === 'peer') && (!onlyTargets || onlyTargets.includes(d.id)),
);
const run: LoadRun = {
  schemaVersion: 1,
  profile: profile.name,
  startedAt: new Date().toISOString(),
  finishedAt: '',
  machine: {
    cpuModel: cpus()[0]?.model ?? '?',
    cpus: cpus().length,
    memGiB: round(totalmem() / 2 ** 30, 1),
    kernel: release(),
    openFilesLimit: openFilesLimit(),
    loadavgAtStart: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number),
  },
  runtimes: versions,
  limits: {
    connectionsPerServer: profile.maxConnections,
    note: `One process may hold at most ${openFilesLimit()} open files here (hard limit), so each server holds at most ${profile.maxConnections} connections; load clients are spread over ${profile.workers} worker processes, each bound to its own source address (127.0.0.2…) for its own ephemeral ports.`,
  },
  targets: [],
  measurements: [],
  notes: [],
  errors: [],
};

function openFilesLimit(): number {
  const m = /Max open files\s+(\d+)\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'));
  return m ? Number(m[2]) : 0;
}

function save(): void {
  run.finishedAt = new Date().toISOString();
  writeFileSync(outFile, JSON.stringify(run, null, 1));
}

// ---- helpers -----------------------------------------------------------------------------------

function split(total: number, parts: number): Map<number, number> {
  const out = new Map<number, number>();
  for (let i = 0; i < parts; i++) {
    const n = Math.floor(total / parts) + (i < total % parts ? 1 : 0);
    if (n > 0) out.set(i, n);
  }
  return out;
}

function errorsOf(counters: Record<string, number>): Record<string, number> {
  return Object.fromEntries(ERROR_COUNTERS.map((k) => [k, counters[k] ?? 0]));
}

function addCounters(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

let gates = 0;
async function gate(what: string): Promise<number> {
  const waitMs = gates++ === 0 ? profile.firstGateMs : profile.loadGateMs;
  const deadline = Date.now() + waitMs;
  let load = loadavg1();
  if (waitMs > 0 && load >= 0.7) {
    log(`waiting for the 1-minute load average to fall below 0.7 (now ${load}) before ${what}, up to ${waitMs / 1000} s`);
    while (load >= 0.7 && Date.now() < deadline) {
      await sleep(2000);
      load = loadavg1();
    }
    if (load >= 0.7) log(`load average still ${load}: measuring anyway`);
  }
  return load;
}

/** Waits for `promise`, printing progress every 2 s; rejects after `timeoutMs`. */
async function withProgress<T>(promise: Promise<T>, timeoutMs: number, progress: () => Promise<string>): Promise<T> {
  let done = false;
  const ticker = (async () => {
    while (!done) {
      await sleep(2000);
      if (!done) log(`  ${await progress()}`);
    }
  })();
  try {
    return await Promise.race([
      promise,
      sleep(timeoutMs).then(() => {
        throw new Error(`timed out after ${timeoutMs / 1000} s`);
      }),
    ]);
  } finally {
    done = true;
    void ticker;
  }
}

interface Ctx {
  def: TargetDef;
  server: RunningServer;
  sampler: Sampler;
  pool: WorkerPool;
  totals: Record<string, number>;
  driverCpuUs: number;
}

async function snap(ctx: Ctx, reset: boolean, trends = reset): Promise<Snapshot> {
  const s = await ctx.pool.snapshot(reset, trends);
  ctx.driverCpuUs += s.cpuUs;
  if (reset) addCounters(ctx.totals, s.counters);
  return s;
}

function status(ctx: Ctx, extra: string): string {
  let rss = 0;
  try {
    rss = ctx.sampler.sample();
  } catch {}
  return `${ctx.def.id}: ${extra} (server RSS ${Math.round(rss / 1024)} MB)`;
}

async function publishAndDrain(ctx: Ctx, subscribers: number, rate: number, events: number): Promise<{ published: number; publishErrors: number; pubMs: number[] }> {
  const metrics = new Metrics();
  const env = createNodeEnv({ metrics, onReady: () => {}, stopped: never });
  await publisher(env, { base: ctx.server.base, protocol: ctx.def.protocol, ...(ctx.def.apiKey ? { apiKey: ctx.def.apiKey } : {}), topic: 'bench', rate, events });
  const expected = (metrics.counters[M.published] ?? 0) * subscribers;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const s = await snap(ctx, false, false);
    if ((s.counters[M.delivered] ?? 0) >= expected || Date.now() > deadline) break;
    await sleep(50);
  }
  return { published: metrics.counters[M.published] ?? 0, publishErrors: metrics.counters[M.publishErrors] ?? 0, pubMs: metrics.trends[M.publishMs] ?? [] };
}

function measurement(ctx: Ctx, base: Omit<LoadMeasurement, 'server' | 'driver' | 'durationS' | 'startedAt'> & { started: number; cpu0: number; driverCpuUs0: number; load?: number }): LoadMeasurement {
  const { started, cpu0, driverCpuUs0, load: _load, ...rest } = base;
  const durationS = (Date.now() - started) / 1000;
  const cpu = safeCpu(ctx.server.pid) - cpu0;
  const driverMs = (ctx.driverCpuUs - driverCpuUs0) / 1000;
  return {
    ...rest,
    startedAt: new Date(started).toISOString(),
    durationS: round(durationS, 1),
    server: { pid: ctx.server.pid, cpuMs: cpu, cpuCores: round(cpu / 1000 / durationS, 2), rssPeakKb: ctx.sampler.peakKb },
    driver: { workers: ctx.pool.size, cpuMs: round(driverMs, 0), cpuCores: round(driverMs / 1000 / durationS, 2) },
  };
}

function safeCpu(pid: number): number {
  try {
    return cpuMs(pid);
  } catch {
    return 0;
  }
}

let currentServer: RunningServer | undefined;

async function withServer<T>(def: TargetDef, pool: WorkerPool, fn: (ctx: Ctx) => Promise<T>): Promise<T | undefined> {
  let server: RunningServer;
  try {
    server = currentServer = await startServer(def);
  } catch (error) {
    const msg = `${def.id}: ${String((error as Error).message ?? error).slice(0, 1500)}`;
    log(`ERROR ${msg}`);
    run.errors.push(msg);
    return undefined;
  }
  const sampler = new Sampler(server.pid);
  const ctx: Ctx = { def, server, sampler, pool, totals: {}, driverCpuUs: 0 };
  try {
    await snap(ctx, true, false);
    ctx.totals = {};
    return await fn(ctx);
  } catch (error) {
    const msg = `${def.id}: ${String((error as Error).stack ?? error).slice(0, 1500)}\n--- server output ---\n${server.output().slice(-1500)}`;
    log(`ERROR ${msg}`);
    run.errors.push(msg);
    return undefined;
  } finally {
    sampler.stop();
    await server.stop();
    currentServer = undefined;
    save();
  }
}

// Interrupted (Ctrl-C, SIGTERM): stop the server under test, keep what was measured, render it.
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.on(signal, () => {
    log(`${signal}: stopping; the report shows what was measured so far`);
    run.errors.push(`run interrupted by ${signal} after ${clock()}; measurements after that point are missing`);
    if (currentServer) {
      try {
        process.kill(currentServer.pid, 'SIGKILL');
      } catch {}
    }
    save();
    const dir = args.docs ? join(ROOT, 'docs') : join(outDir, `report-${profile.name}`);
    mkdirSync(dir, { recursive: true });
    if (args.docs) writeFileSync(join(dir, 'load-report.json'), JSON.stringify(run, null, 1));
    try {
      log(`report: ${renderReport(run, dir, 'load-report.md')}`);
    } catch (error) {
      console.error(error);
    }
    process.exit(130);
  });

// ---- suites ------------------------------------------------------------------------------------

async function latencyPhase(ctx: Ctx, transport: Transport, repeat: number, subscribers: number, events: number): Promise<void> {
  const def = ctx.def;
  const pid = ctx.server.pid;
      const lat0 = { started: Date.now(), cpu0: safeCpu(pid), driverCpuUs0: ctx.driverCpuUs, load: loadavg1() };
      log(`  latency: ${events} events at ${profile.latencyRate}/s to ${subscribers} subscribers`);
      const pub = await publishAndDrain(ctx, subscribers, profile.latencyRate, events);
      const s = await snap(ctx, true, true);
      const lat = sortNumbers(s.trends[M.deliverMs] ?? []);
      const delivered = s.counters[M.delivered] ?? 0;
      const m = measurement(ctx, {
        target: def.id,
        scenario: 'latency',
        transport,
        repeat,
        loadavg1: lat0.load,
        params: { subscribers: subscribers, rate: profile.latencyRate, events: events },
        figures: {
          subscribers: subscribers,
          events: pub.published,
          delivered,
          expected: pub.published * subscribers,
          p50Ms: round(percentile(lat, 50)),
          p90Ms: round(percentile(lat, 90)),
          p99Ms: round(percentile(lat, 99)),
          p999Ms: round(percentile(lat, 99.9)),
          maxMs: round(lat[lat.length - 1] ?? Number.NaN),
          publishP50Ms: round(percentile(sortNumbers(pub.pubMs), 50)),
        },
        errors: { ...errorsOf(s.counters), [M.publishErrors]: pub.publishErrors, undelivered: Math.max(0, pub.published * subscribers - delivered) },
        ...lat0,
      });
      run.measurements.push(m);
      log(`  latency p50 ${m.figures.p50Ms} ms, p99 ${m.figures.p99Ms} ms, max ${m.figures.maxMs} ms; delivered ${delivered}/${m.figures.expected}`);
}

/** Connections (memory per connection, hold at max), fan-out latency at 1 event/s, CPU per delivered event. */
async function scaleSuite(def: TargetDef, pool: WorkerPool, transport: Transport, repeat: number, loadavg: number): Promise<void> {
  const first = repeat === 1;
  await withServer(def, pool, async (ctx) => {
    const pid = ctx.server.pid;
    const started = Date.now();
    const cpuStart = safeCpu(pid);
    await sleep(profile.name === 'full' ? 1500 : 300);
    const rssIdle = ctx.sampler.sample();
    const common = { base: ctx.server.base, protocol: def.protocol, ...(def.apiKey ? { apiKey: def.apiKey } : {}), transport, topics: ['bench'], holdMs: profile.maxLifetimeMs, maxInFlight: 128 };
    const n1 = profile.connections;
    log(`${def.id} ${transport} #${repeat}: opening ${n1} subscribed connections`);
    const runs = [pool.run('subscribers', new Map([...split(n1, pool.size)].map(([i, count]) => [i, { ...common, count }])))];
    for (const r of runs) r.done.catch((e) => run.errors.push(`${def.id} ${transport}: ${e}`));
    const rampStart = Date.now();
    const progress = async () => {
      const s = await snap(ctx, false, false);
      return status(ctx, `${s.counters[M.connectOk] ?? 0} connected, ${s.counters[M.connectErrors] ?? 0} failed`);
    };
    await withProgress(runs[0]!.ready('subscribed'), 240_000, progress);
    const rampS = (Date.now() - rampStart) / 1000;
    await sleep(profile.settleMs);
    const s1 = await snap(ctx, true, true);
    const rss1 = ctx.sampler.sample();
    const connected1 = s1.counters[M.connectOk] ?? 0;
    const connectMs = sortNumbers(s1.trends[M.connectMs] ?? []);
    const connFigures: Record<string, number> = {
      n: n1,
      connected: connected1,
      rssIdleKb: rssIdle,
      rssKb: rss1,
      kbPerConn: round((rss1 - rssIdle) / Math.max(1, connected1), 2),
      rampS: round(rampS, 1),
      connectP50Ms: round(percentile(connectMs, 50)),
      connectP99Ms: round(percentile(connectMs, 99)),
    };
    log(`  ${connected1}/${n1} connected in ${round(rampS, 1)} s; ${connFigures.kbPerConn} KB/connection`);

    // Latency at N in every repeat (the report takes the median p99), fewer events after the first.
    await latencyPhase(ctx, transport, repeat, connected1, first ? profile.latencyEvents : Math.min(5, profile.latencyEvents));

    {
      const c0 = { started: Date.now(), cpu0: safeCpu(pid), driverCpuUs0: ctx.driverCpuUs, load: loadavg1() };
      const pub = await publishAndDrain(ctx, connected1, profile.cpuRate, profile.cpuEvents);
      const cpuUsed = safeCpu(pid) - c0.cpu0;
      const s = await snap(ctx, true, false);
      const delivered = s.counters[M.delivered] ?? 0;
      const m = measurement(ctx, {
        target: def.id,
        scenario: 'cpu',
        transport,
        repeat,
        loadavg1: c0.load,
        params: { subscribers: connected1, rate: profile.cpuRate, events: profile.cpuEvents },
        figures: {
          subscribers: connected1,
          events: pub.published,
          delivered,
          serverCpuMs: cpuUsed,
          usPerEvent: round((cpuUsed * 1000) / Math.max(1, delivered), 2),
        },
        errors: { ...errorsOf(s.counters), [M.publishErrors]: pub.publishErrors, undelivered: Math.max(0, pub.published * connected1 - delivered) },
        ...c0,
      });
      run.measurements.push(m);
      log(`  CPU: ${m.figures.usPerEvent} µs of server CPU per delivered event (${delivered} delivered, driver ${m.driver.cpuCores} cores)`);
    }

    if (first && profile.maxConnections > n1) {
      const more = profile.maxConnections - n1;
      log(`  scaling to ${profile.maxConnections}: opening ${more} more`);
      const r2 = pool.run('subscribers', new Map([...split(more, pool.size)].map(([i, count]) => [i, { ...common, count }])));
      r2.done.catch((e) => run.errors.push(`${def.id} ${transport}: ${e}`));
      runs.push(r2);
      await withProgress(r2.ready('subscribed'), 240_000, progress);
      await sleep(profile.settleMs);
      const rss2 = ctx.sampler.sample();
      log(`  holding for ${profile.holdS} s`);
      await sleep(profile.holdS * 1000);
      const s = await snap(ctx, true, false);
      connFigures.maxN = profile.maxConnections;
      connFigures.maxConnected = connected1 + (s.counters[M.connectOk] ?? 0);
      connFigures.maxRssKb = rss2;
      connFigures.kbPerConnAtMax = round((rss2 - rssIdle) / Math.max(1, connFigures.maxConnected), 2);
      connFigures.heldS = profile.holdS;
      log(`  ${connFigures.maxConnected}/${profile.maxConnections} held ${profile.holdS} s; ${connFigures.kbPerConnAtMax} KB/connection`);
      await latencyPhase(ctx, transport, repeat, connFigures.maxConnected, Math.min(3, profile.latencyEvents));
    }
    for (const r of runs) r.stop();
    await Promise.race([Promise.allSettled(runs.map((r) => r.done)), sleep(30_000)]);
    await snap(ctx, true, false);
    for (const [k, n] of Object.entries(ctx.totals)) if (k.startsWith('dropped_code_')) connFigures[k] = n;
    const m = measurement(ctx, {
      target: def.id,
      scenario: 'connections',
      transport,
      repeat,
      loadavg1: loadavg,
      params: { connections: n1, maxConnections: first ? profile.maxConnections : n1, workers: pool.size },
      figures: connFigures,
      errors: errorsOf(ctx.totals),
      started,
      cpu0: cpuStart,
      driverCpuUs0: 0,
    });
    run.measurements.push(m);
  });
}

async function throughputSuite(def: TargetDef, pool: WorkerPool, loadavg: number): Promise<void> {
  await withServer(def, pool, async (ctx) => {
    const base = ctx.server.base;
    log(`${def.id} ws: publish throughput (${pool.size * profile.throughputConnsPerWorker} publishers, ${profile.throughputSubscribers} subscribers, ${profile.throughputS} s)`);
    const subs = pool.run('subscribers', new Map([...split(profile.throughputSubscribers, pool.size)].map(([i, count]) => [i, { base, protocol: def.protocol, transport: 'ws', topics: ['tp'], holdMs: profile.maxLifetimeMs, count }])));
    subs.done.catch((e) => run.errors.push(`${def.id} throughput: ${e}`));
    await withProgress(subs.ready('subscribed'), 60_000, async () => status(ctx, 'subscribing'));
    await snap(ctx, true, false);
    const c0 = { started: Date.now(), cpu0: safeCpu(ctx.server.pid), driverCpuUs0: ctx.driverCpuUs };
    const pubs = pool.run('throughput', new Map(Array.from({ length: pool.size }, (_, i) => [i, { base, protocol: def.protocol, connections: profile.throughputConnsPerWorker, topic: 'tp', window: 32, durationMs: profile.throughputS * 1000 }])));
    await withProgress(pubs.done, profile.throughputS * 1000 + 30_000, async () => status(ctx, 'publishing'));
    const cpuUsed = safeCpu(ctx.server.pid) - c0.cpu0;
    const s = await snap(ctx, true, false);
    subs.stop();
    await Promise.race([subs.done.catch(() => {}), sleep(10_000)]);
    await snap(ctx, true, false);
    const acked = s.counters[M.acked] ?? 0;
    const m = measurement(ctx, {
      target: def.id,
      scenario: 'throughput',
      transport: 'ws',
      repeat: 1,
      loadavg1: loadavg,
      params: { publishers: pool.size * profile.throughputConnsPerWorker, window: 32, subscribers: profile.throughputSubscribers, durationS: profile.throughputS },
      figures: {
        ackedPerS: round(acked / profile.throughputS, 0),
        deliveredPerS: round((s.counters[M.delivered] ?? 0) / profile.throughputS, 0),
        usPerPublish: round((cpuUsed * 1000) / Math.max(1, acked), 2),
      },
      errors: errorsOf(ctx.totals),
      ...c0,
    });
    run.measurements.push(m);
    log(`  ${m.figures.ackedPerS} publishes/s acked, ${m.figures.deliveredPerS} deliveries/s, ${m.figures.usPerPublish} µs server CPU per publish`);
  });
}

async function churnSuite(def: TargetDef, pool: WorkerPool, transport: Transport, loadavg: number): Promise<void> {
  await withServer(def, pool, async (ctx) => {
    await sleep(300);
    const rssBefore = ctx.sampler.sample();
    const c0 = { started: Date.now(), cpu0: safeCpu(ctx.server.pid), driverCpuUs0: ctx.driverCpuUs };
    const lanes = pool.size * profile.churnConcurrencyPerWorker;
    log(`${def.id} ${transport}: connection churn (${lanes} lanes, ${profile.churnS} s)`);
    const r = pool.run('churn', new Map(Array.from({ length: pool.size }, (_, i) => [i, { base: ctx.server.base, protocol: def.protocol, ...(def.apiKey ? { apiKey: def.apiKey } : {}), transport, concurrency: profile.churnConcurrencyPerWorker, topics: ['churn'], durationMs: profile.churnS * 1000 }])));
    await withProgress(r.done, profile.churnS * 1000 + 30_000, async () => {
      const s = await snap(ctx, false, false);
      return status(ctx, `${s.counters[M.churnCycles] ?? 0} cycles`);
    });
    const s = await snap(ctx, true, true);
    await sleep(1000);
    const rssAfter = ctx.sampler.sample();
    const cycles = s.counters[M.churnCycles] ?? 0;
    const ms = sortNumbers(s.trends[M.churnMs] ?? []);
    const m = measurement(ctx, {
      target: def.id,
      scenario: 'churn',
      transport,
      repeat: 1,
      loadavg1: loadavg,
      params: { lanes, durationS: profile.churnS },
      figures: { cycles, cyclesPerS: round(cycles / profile.churnS, 0), p50Ms: round(percentile(ms, 50)), p99Ms: round(percentile(ms, 99)), rssBeforeKb: rssBefore, rssAfterKb: rssAfter },
      errors: errorsOf(ctx.totals),
      ...c0,
    });
    run.measurements.push(m);
    log(`  ${m.figures.cyclesPerS} connect→subscribe→close cycles/s, p99 ${m.figures.p99Ms} ms, RSS ${Math.round(rssBefore / 1024)} → ${Math.round(rssAfter / 1024)} MB`);
  });
}

// ---- main --------------------------------------------------------------------------------------

async function main(): Promise<number> {
  log(`relaykit load, ${profile.name} profile: ${defs.map((d) => d.id).join(', ')}`);
  log(`machine: ${run.machine.cpus} × ${run.machine.cpuModel}, ${run.machine.memGiB} GiB, open files ${run.machine.openFilesLimit}; ${Object.values(versions).map((v) => v.version).join(', ')}`);
  const available: TargetDef[] = [];
  for (const def of defs) {
    const why = def.id === 'peer-centrifugo' && !profile.buildCentrifugo && !existsSync(CENTRIFUGO_BIN) ? `not built yet (the quick profile does not build it; the full profile runs go install)` : def.unavailable();
    const target: LoadTarget = { id: def.id, runtime: def.runtime, kind: def.kind, label: def.label, protocol: def.protocol, transports: def.transports, version: why ? '' : def.version() };
    if (why) {
      target.skipped = why;
      log(`skipping ${def.id}: ${why}`);
      if (def.kind === 'relaykit') run.errors.push(`${def.id} could not run: ${why}`);
      else run.notes.push(`${def.label} was not run: ${why}.`);
    } else available.push(def);
    run.targets.push(target);
  }
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'apps', 'packages/core', 'packages/contracts'], { cwd: ROOT, encoding: 'utf8' }).trim();
    run.notes.push(`Servers measured from commit ${head}${dirty ? ` plus uncommitted changes in the working tree (${dirty.split('\n').length} files under apps/ and packages/)` : ''}.`);
  } catch {}
  const pins: Record<string, RegExp> = { node: /^Node v24\./, bun: /^Bun 1\.4\./, deno: /^Deno 2\.9\./ };
  for (const [rt, re] of Object.entries(pins))
    if (!re.test(versions[rt]?.version ?? '')) run.errors.push(`${rt} is ${versions[rt]?.version}, not the pinned ${re.source.replace(/\\/g, '')}x`);
  save();
  const pool = await WorkerPool.start(profile.workers, profile.maxLifetimeMs);
  const hardStop = setTimeout(() => {
    log('ERROR: the run exceeded its time limit; stopping');
    run.errors.push('run exceeded its time limit');
    save();
    process.exit(2);
  }, profile.maxLifetimeMs);
  hardStop.unref();
  try {
    const byRuntime = (rt: string) => available.filter((d) => d.runtime === rt && d.kind !== 'peer');
    const peers = available.filter((d) => d.kind === 'peer');
    // Repeat 1 of everything first (runtimes, then peers, throughput and churn), then the further
    // repeats of the efficiency suite: a run cut short still has every scenario once.
    for (let rep = 1; rep <= profile.repeats; rep++) {
      for (const rt of ['node', 'bun', 'deno']) {
        const group = byRuntime(rt);
        if (!group.length || !suites.has('scale')) continue;
        const load = await gate(`${rt} #${rep}`);
        for (const transport of ['ws', 'sse'] as const)
          for (const def of group) if (transportsWanted.has(transport)) await scaleSuite(def, pool, transport, rep, load);
      }
      if (rep !== 1) continue;
      if (peers.length && suites.has('scale') && transportsWanted.has('ws')) {
        const load = await gate('peers');
        for (const def of peers) await scaleSuite(def, pool, 'ws', rep, load);
      }
      if (suites.has('throughput') || suites.has('churn')) {
        const load = await gate('throughput and churn');
        if (suites.has('throughput')) for (const def of available) if (def.protocol === 'relaykit') await throughputSuite(def, pool, load);
        if (suites.has('churn'))
          for (const def of available) for (const transport of def.transports) if (transportsWanted.has(transport)) await churnSuite(def, pool, transport, load);
      }
    }
  } finally {
    await pool.close();
  }
  save();
  const parsed = LoadRun.safeParse(run);
  if (!parsed.success) run.errors.push(`result does not match the LoadRun schema: ${parsed.error.message.slice(0, 500)}`);
  save();
  log(`results: ${outFile}`);
  const reportDir = args.docs ? join(ROOT, 'docs') : join(outDir, `report-${profile.name}`);
  mkdirSync(reportDir, { recursive: true });
  if (args.docs) writeFileSync(join(reportDir, 'load-report.json'), JSON.stringify(run, null, 1));
  const reportFile = renderReport(run, reportDir, 'load-report.md');
  log(`report: ${reportFile}`);
  let failed = run.errors.length;
  let passed = 0;
  for (const m of run.measurements) {
    const bad = Object.entries(m.errors).filter(([, v]) => v > 0);
    if (bad.length) {
      failed++;
      log(`FAIL ${m.target} ${m.scenario} ${m.transport} #${m.repeat}: ${bad.map(([k, v]) => `${k}=${v}`).join(', ')}`);
    } else passed++;
  }
  for (const e of run.errors) log(`FAIL ${e.split('\n')[0]}`);
  console.log(`load: ${passed} passed, ${failed} failed`);
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    save();
    process.exit(1);
  },
);
