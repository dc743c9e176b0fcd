/**
 * The soak suite (issue 9, "Soak"): does a server give back what a connection took once it is gone?
 * Per relaykit runtime, one fresh server; per transport (WS, SSE, long poll), `soakCycles`
 * connect → subscribe (resume after the topic's first event) → receive the replayed second event →
 * disconnect cycles, `soakConcurrency` at a time, from the runner process. Every `soakEvery`
 * cycles the cycles pause, the server is garbage-collected (Node, Deno: two full GCs through
 * --inspect, as the attacks suite's --attack-gc) and its RSS and V8's used heap are recorded.
 *
 *   node runner/main.ts --suites soak [--only node] [--transports ws,sse,poll] [--soak-cycles N]
 *
 * The first `warmup` cycles (1,000 of 10,000) are left out: least squares of post-GC heap and of
 * RSS on the cycle count over the marks from there on, in KB per 1,000 cycles,
 * must stay within SOAK_HEAP_LIMIT_KB / SOAK_RSS_LIMIT_KB. At the end of each transport the
 * /metrics connections gauges must be back to 0. Forced GCs: Node and Deno through the DevTools
 * protocol, Bun through its WebKit inspector's Runtime.evaluate of `Bun.gc(true)` (inspector-gc.ts).
 */
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LoadMeasurement } from '@relaykit/contracts';
import { type InspectorGc, connectInspector, inspectArgs } from '../inspector-gc.ts';
import { loadavg1, rssKb, safeCpuMs } from '../proc.ts';
import type { RunState } from '../run-state.ts';
import { type SoakTopic, type SoakTransport, soakCycle } from '../soak-cycles.ts';
import { round } from '../stats.ts';
import { type RunningServer, type TargetDef, freePort, startServer } from '../targets.ts';

/**
 * Post-GC heap slope limit, KB per 1,000 cycles. One leaked connection record (a session object,
 * its topic-set entry, a timer) is ≥ 200 bytes, i.e. ≥ 200 KB per 1,000 cycles; the post-GC used
 * heap of an idle server moves by a few tens of KB between marks (interned strings, code and IC
 * feedback, metrics), so 64 KB separates the two.
 */
export const SOAK_HEAP_LIMIT_KB = 64;
/**
 * RSS slope limit, KB per 1,000 cycles: RSS moves in whole pages and allocator arenas (glibc
 * malloc, V8 pages of 256 KB), so one mark can be a page run above the next; 256 KB per 1,000
 * cycles (2.5 MB over 10,000) still catches a leak of ≥ 256 bytes per connection.
 */
export const SOAK_RSS_LIMIT_KB = 256;
/** Below this many cycles after warm-up a heap slope is noise at its limit: reported, not judged (the quick profile). */
const MIN_JUDGED_CYCLES = 1000;
/**
 * RSS moves in steps (V8 pages, allocator chunks of a few hundred KB): over 1,000 cycles one step
 * alone is over the limit (Deno WS at 2,000 cycles: one +300 KB step, 287 KB/1k; the same server
 * at 10,000: 73 KB/1k), so the RSS slope is judged only over ≥ 4,000 cycles, where a 512 KB step
 * weighs ≤ 128 KB per 1,000.
 */
const MIN_JUDGED_CYCLES_RSS = 4000;

export const SOAK_TRANSPORTS: readonly SoakTransport[] = ['ws', 'sse', 'poll'];

export interface SoakScale {
  cycles: number;
  /** Cycles between two marks. */
  every: number;
  /** Cycles left out of the slope (JIT, pools, lazily built tables: the first few hundred cycles still grow the heap). */
  warmup: number;
  concurrency: number;
}

interface Mark {
  cycles: number;
  rssKb: number;
  heapKb: number | undefined;
}

/** Least-squares slope of y on x, per 1,000 x. */
export function slopePer1k(points: Array<[number, number]>): number {
  const n = points.length;
  if (n < 2) return Number.NaN;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const [x, y] of points) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
  }
  return sxx ? (sxy / sxx) * 1000 : Number.NaN;
}

function request(base: string, method: string, path: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = http.request(new URL(path, base), { method, agent: false, timeout: 5000, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: 0, body: e.message }));
    req.end(body);
  });
}

/** The `relaykit_connections` gauge per transport label, from /metrics. */
async function connectionGauges(base: string): Promise<Record<string, number>> {
  const { body } = await request(base, 'GET', '/metrics');
  const out: Record<string, number> = {};
  for (const m of body.matchAll(/^relaykit_connections\{transport="(\w+)"\} (\S+)$/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

const sumOf = (g: Record<string, number>) => Object.values(g).reduce((a, b) => a + b, 0);

/**
 * Runs the soak on every relaykit target. A pair off target counts as failed through its
 * measurement's errors; a server that does not start or a suite error is a run error.
 */
export async function soakSuite(state: RunState, defs: TargetDef[], transports: SoakTransport[], scale: SoakScale): Promise<void> {
  state.log(`soak: ${scale.cycles.toLocaleString('en')} connect → subscribe → event → disconnect cycles per transport (${transports.join(', ')}), ${scale.concurrency} at a time, a mark every ${scale.every}`);
  state.note(`Soak: heap slope limit ${SOAK_HEAP_LIMIT_KB} KB and RSS slope limit ${SOAK_RSS_LIMIT_KB} KB per 1,000 cycles (least squares over the marks from cycle ${scale.warmup} on, judged when that spans at least ${MIN_JUDGED_CYCLES} cycles for the heap, ${MIN_JUDGED_CYCLES_RSS} for RSS, which moves in steps of pages and allocator chunks). Forced GCs through --inspect on every runtime (Bun: \`Bun.gc(true)\` evaluated by its WebKit inspector; heap = process.memoryUsage().heapUsed, JavaScriptCore's).`);
  for (const def of defs) {
    const inspectPort = await freePort();
    let inspecting = false;
    const wrapped: TargetDef = {
      ...def,
      command: (port) => {
        const c = def.command(port);
        const args = inspectArgs(def.runtime, c.args, inspectPort);
        inspecting = !!args;
        return { ...c, args: args ?? c.args };
      },
    };
    let server: RunningServer;
    try {
      server = state.current = await startServer(wrapped);
    } catch (error) {
      state.error(`${def.id} soak: the server did not start: ${String((error as Error).message).slice(0, 800)}`);
      continue;
    }
    const inspector = inspecting ? await connectInspector(inspectPort, 10_000, def.runtime) : undefined;
    if (inspecting && !inspector) state.note(`${def.id} soak: --inspect did not answer; RSS only.`);
    try {
      for (const transport of transports) {
        state.measured(await soakTransport(state, def, server, inspector, transport, scale));
      }
    } catch (error) {
      state.error(`${def.id} soak: ${String((error as Error).stack ?? error).slice(0, 1500)}\n--- server output ---\n${server.output().slice(-1500)}`);
    } finally {
      inspector?.close();
      await server.stop();
      state.current = undefined;
      state.save();
    }
  }
}

async function soakTransport(state: RunState, def: TargetDef, server: RunningServer, inspector: InspectorGc | undefined, transport: SoakTransport, scale: SoakScale): Promise<LoadMeasurement> {
  const { pid, base } = server;
  const load = loadavg1();
  const started = Date.now();
  const cpu0 = safeCpuMs(pid);
  const driverCpu0 = process.cpuUsage();
  // Two events on a topic of its own: every cycle resumes after the first and must receive the second.
  const topic = `soak-${transport}`;
  const ids: string[] = [];
  for (const n of [1, 2]) {
    const a = await request(base, 'POST', `/v1/topics/${topic}/events`, JSON.stringify({ type: 'soak', data: { n } }));
    if (a.status !== 201) throw new Error(`publishing the soak topic's event ${n}: ${a.status} ${a.body.slice(0, 200)}`);
    ids.push((JSON.parse(a.body) as { id: string }).id);
  }
  const t: SoakTopic = { base, topic, afterId: ids[0]!, expectId: ids[1]! };
  const marks: Mark[] = [];
  const mark = async (cycles: number) => {
    const heapKb = inspector ? await inspector.collect() : (await sleep(300), undefined);
    marks.push({ cycles, rssKb: rssKb(pid), heapKb });
  };
  let done = 0;
  let failed = 0;
  const reasons = new Map<string, number>();
  const cycleMs: number[] = [];
  state.log(`${def.id} ${transport}: soak, ${scale.cycles.toLocaleString('en')} cycles`);
  await mark(0);
  while (done < scale.cycles) {
    const block = Math.min(scale.every, scale.cycles - done);
    let next = 0;
    const blockStart = Date.now();
    await Promise.all(
      Array.from({ length: Math.min(scale.concurrency, block) }, async () => {
        while (next < block) {
          const cycle = done + next++;
          const t0 = performance.now();
          try {
            await soakCycle(transport, t, cycle);
            cycleMs.push(performance.now() - t0);
          } catch (error) {
            failed++;
            const why = String((error as Error).message).slice(0, 60);
            reasons.set(why, (reasons.get(why) ?? 0) + 1);
          }
        }
      }),
    );
    done += block;
    await mark(done);
    const last = marks.at(-1)!;
    state.log(`  ${done.toLocaleString('en')} cycles (${Math.round(block / ((Date.now() - blockStart) / 1000))}/s): RSS ${round(last.rssKb / 1024, 1)} MB${last.heapKb !== undefined ? `, heap after GC ${round(last.heapKb / 1024, 2)} MB` : ''}${failed ? `, ${failed} failed` : ''}`);
  }
  // The gauges must come back to 0: closed connections free what they held.
  let gauges = await connectionGauges(base);
  for (let i = 0; i < 50 && sumOf(gauges) !== 0; i++) {
    await sleep(100);
    gauges = await connectionGauges(base);
  }
  const judged = marks.filter((m) => m.cycles >= scale.warmup);
  const heapSlope = judged.every((m) => m.heapKb !== undefined) ? slopePer1k(judged.map((m) => [m.cycles, m.heapKb!])) : Number.NaN;
  const rssSlope = slopePer1k(judged.map((m) => [m.cycles, m.rssKb]));
  const judgedCycles = scale.cycles - scale.warmup;
  const judge = judgedCycles >= MIN_JUDGED_CYCLES;
  const heapJudged = judge && Number.isFinite(heapSlope);
  const rssJudged = judgedCycles >= MIN_JUDGED_CYCLES_RSS && inspector !== undefined;
  const durationS = (Date.now() - started) / 1000;
  const cpu = safeCpuMs(pid) - cpu0;
  const driverUs = process.cpuUsage(driverCpu0);
  const driverMs = (driverUs.user + driverUs.system) / 1000;
  cycleMs.sort((a, b) => a - b);
  const figures: Record<string, number> = {
    cycles: scale.cycles,
    completed: done - failed,
    cyclesPerS: round(scale.cycles / durationS, 0),
    p50Ms: round(cycleMs[Math.floor(cycleMs.length * 0.5)] ?? Number.NaN),
    p99Ms: round(cycleMs[Math.floor(cycleMs.length * 0.99)] ?? Number.NaN),
    heapSlopeKbPer1k: round(heapSlope, 1),
    rssSlopeKbPer1k: round(rssSlope, 1),
    heapLimitKbPer1k: SOAK_HEAP_LIMIT_KB,
    rssLimitKbPer1k: SOAK_RSS_LIMIT_KB,
    connectionsAfter: sumOf(gauges),
  };
  for (const m of marks) {
    figures[`rssKb@${m.cycles}`] = m.rssKb;
    if (m.heapKb !== undefined) figures[`heapKb@${m.cycles}`] = m.heapKb;
  }
  for (const [k, v] of Object.entries(figures)) if (!Number.isFinite(v)) delete figures[k];
  const errors = {
    cycleFailures: failed,
    heapSlopeOverLimit: heapJudged && heapSlope > SOAK_HEAP_LIMIT_KB ? 1 : 0,
    rssSlopeOverLimit: rssJudged && rssSlope > SOAK_RSS_LIMIT_KB ? 1 : 0,
    gaugesNotZero: sumOf(gauges) === 0 && Object.keys(gauges).length ? 0 : 1,
  };
  const params: Record<string, string | number | boolean> = {
    concurrency: scale.concurrency,
    every: scale.every,
    warmup: scale.warmup,
    gc: inspector ? 'forced GCs through --inspect' : 'none (RSS after a 300 ms pause)',
    heapJudged,
    rssJudged,
    gaugesAfter: Object.entries(gauges).map(([k, v]) => `${k}=${v}`).join(' ') || 'no relaykit_connections gauge',
  };
  if (reasons.size) params.failureReasons = [...reasons].map(([k, v]) => `${k}×${v}`).join('; ').slice(0, 300);
  const verdict = (slope: number, limit: number, judged: boolean) => `${round(slope, 1)} KB/1k${judged ? (slope > limit ? ' FAIL' : ' ok') : ' (not judged)'}`;
  state.log(`  slope heap ${verdict(heapSlope, SOAK_HEAP_LIMIT_KB, heapJudged)}, RSS ${verdict(rssSlope, SOAK_RSS_LIMIT_KB, rssJudged)}; gauges after: ${params.gaugesAfter}${failed ? `; ${failed} cycles failed: ${params.failureReasons}` : ''}`);
  return {
    target: def.id,
    scenario: 'soak',
    transport,
    repeat: 1,
    startedAt: new Date(started).toISOString(),
    durationS: round(durationS, 1),
    loadavg1: load,
    params,
    figures,
    errors,
    server: { pid, cpuMs: cpu, cpuCores: round(cpu / 1000 / durationS, 2), rssPeakKb: Math.max(...marks.map((m) => m.rssKb)) },
    driver: { workers: 0, cpuMs: round(driverMs, 0), cpuCores: round(driverMs / 1000 / durationS, 2) },
  };
}
