/**
 * What every suite that drives a server through the load workers shares: the server under test
 * with its RSS sampler and the pool's counters since it started (`withServer`), snapshots of the
 * workers, progress lines, and the LoadMeasurement record of a phase (server and driver CPU).
 */
import type { LoadMeasurement } from '@relaykit/contracts';
import type { LatencyHistogram } from '../../driver/histogram.ts';
import type { Snapshot, WorkerPool } from '../../driver/pool.ts';
import { ERROR_COUNTERS } from '../../scenarios/env.ts';
import { Sampler, loadavg1, safeCpuMs, treeCpuMs } from '../proc.ts';
import type { Profile } from '../profiles.ts';
import type { RunState } from '../run-state.ts';
import { round } from '../stats.ts';
import { type RunningServer, type ServerSetup, type TargetDef, startServer } from '../targets.ts';

/** What a suite is run with. */
export interface SuiteEnv {
  state: RunState;
  profile: Profile;
  pool: WorkerPool;
}

/** One server under test. */
export interface Ctx extends SuiteEnv {
  def: TargetDef;
  /** How the server was started (the cluster suite); its CPU and RSS are then its process tree's. */
  setup: ServerSetup | undefined;
  server: RunningServer;
  sampler: Sampler;
  /** The workers' counters since the server started (every resetting snapshot adds to them). */
  totals: Record<string, number>;
  /** The workers' CPU since the server started, µs. */
  driverCpuUs: number;
}

/** Start of a phase: when, the server's and the driver's CPU then, and the load average. */
export interface PhaseStart {
  started: number;
  cpu0: number;
  driverCpuUs0: number;
  load?: number;
}

/** The server's CPU time so far, ms: its process tree's when it was started with a ServerSetup (WORKERS > 1). */
export function serverCpuMs(ctx: Ctx): number {
  return ctx.setup ? treeCpuMs(ctx.server.pid) : safeCpuMs(ctx.server.pid);
}

/** Marks the start of a phase now; `withLoad` also reads the 1-minute load average. */
export function phaseStart(ctx: Ctx, withLoad = false): PhaseStart {
  return { started: Date.now(), cpu0: serverCpuMs(ctx), driverCpuUs0: ctx.driverCpuUs, ...(withLoad ? { load: loadavg1() } : {}) };
}

/**
 * Starts `def`, runs `fn` against it and stops it; a server that does not start, or an error in
 * `fn`, is a run error (with the server's last output), and the run record is saved after.
 */
export async function withServer<T>(env: SuiteEnv, def: TargetDef, fn: (ctx: Ctx) => Promise<T>, setup?: ServerSetup): Promise<T | undefined> {
  const { state } = env;
  let server: RunningServer;
  try {
    server = state.current = await startServer(def, setup);
  } catch (error) {
    state.error(`${def.id}: ${String((error as Error).message ?? error).slice(0, 1500)}`);
    return undefined;
  }
  const sampler = new Sampler(server.pid, 250, setup !== undefined);
  const ctx: Ctx = { ...env, def, setup, server, sampler, totals: {}, driverCpuUs: 0 };
  try {
    await snap(ctx, true, false);
    ctx.totals = {};
    return await fn(ctx);
  } catch (error) {
    state.error(`${def.id}: ${String((error as Error).stack ?? error).slice(0, 1500)}\n--- server output ---\n${server.output().slice(-1500)}`);
    return undefined;
  } finally {
    sampler.stop();
    await server.stop();
    state.current = undefined;
    state.save();
  }
}

/** The workers' counters (and with `trends` their merged histograms); `reset` starts the next phase. */
export async function snap(ctx: Ctx, reset: boolean, trends = reset): Promise<Snapshot> {
  const s = await ctx.pool.snapshot(reset, trends);
  ctx.driverCpuUs += s.cpuUs;
  if (reset) addCounters(ctx.totals, s.counters);
  return s;
}

/** A progress line: the target, `extra`, and the server's RSS now. */
export function status(ctx: Ctx, extra: string): string {
  let rss = 0;
  try {
    rss = ctx.sampler.sample();
  } catch {}
  return `${ctx.def.id}: ${extra} (server RSS ${Math.round(rss / 1024)} MB)`;
}

/** The measurement of a phase that began at `base`'s PhaseStart: duration, server and driver CPU, peak RSS. */
export function measurement(ctx: Ctx, base: Omit<LoadMeasurement, 'server' | 'driver' | 'durationS' | 'startedAt'> & PhaseStart): LoadMeasurement {
  const { started, cpu0, driverCpuUs0, load: _load, ...rest } = base;
  const durationS = (Date.now() - started) / 1000;
  const cpu = serverCpuMs(ctx) - cpu0;
  const driverMs = (ctx.driverCpuUs - driverCpuUs0) / 1000;
  return {
    ...rest,
    startedAt: new Date(started).toISOString(),
    durationS: round(durationS, 1),
    server: { pid: ctx.server.pid, cpuMs: cpu, cpuCores: round(cpu / 1000 / durationS, 2), rssPeakKb: ctx.sampler.peakKb },
    driver: { workers: ctx.pool.size, cpuMs: round(driverMs, 0), cpuCores: round(driverMs / 1000 / durationS, 2) },
  };
}

/** `total` spread over `parts` workers: worker index → its share (workers with 0 left out). */
export function split(total: number, parts: number): Map<number, number> {
  const out = new Map<number, number>();
  for (let i = 0; i < parts; i++) {
    const n = Math.floor(total / parts) + (i < total % parts ? 1 : 0);
    if (n > 0) out.set(i, n);
  }
  return out;
}

/** The error counters of `counters`, every one present (0 when absent). */
export function errorsOf(counters: Record<string, number>): Record<string, number> {
  return Object.fromEntries(ERROR_COUNTERS.map((k) => [k, counters[k] ?? 0]));
}

function addCounters(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

/** Percentile `p` of a trend in ms, rounded to 0.01 ms; NaN when it has no values. */
export function pct(h: LatencyHistogram | undefined, p: number): number {
  return round(h ? h.percentile(p) : Number.NaN);
}
