/**
 * The cluster section of the load report (runner/suites/cluster.ts, broker-path.ts): relaykit on
 * one Redis against relaykit in memory, WORKERS=N against WORKERS=1, the peers on the same Redis,
 * and the broker path; issue 7's targets as met/missed lines, tables, and five SVG charts. Every
 * ratio is taken within a repeat (configurations measured a minute apart) and the median of the
 * repeats' ratios is what is checked.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LoadMeasurement, LoadRun } from '@relaykit/contracts';
import { f0, f1, med, short } from './format.ts';
import { barChart } from './svg.ts';

const RUNTIMES = ['node', 'bun', 'deno'] as const;
/** Issue 7, point 6. */
export const CLUSTER_TARGETS = { redisCpu: 1.25, redisP99: 1.5, workersCpu: 1.15, brokerPerS: 20_000 } as const;

/** A fan-out configuration as measured: broker and WORKERS. */
type Mode = { broker: 'memory' | 'redis'; workers: number };

export function hasCluster(run: LoadRun): boolean {
  return run.measurements.some((m) => m.scenario === 'cluster' || m.scenario === 'broker');
}

class ClusterView {
  readonly run: LoadRun;
  readonly fanout: LoadMeasurement[];
  readonly broker: LoadMeasurement[];
  /** WORKERS of the multi-process configuration (the largest measured). */
  readonly workersN: number;
  constructor(run: LoadRun) {
    this.run = run;
    this.fanout = run.measurements.filter((m) => m.scenario === 'cluster');
    this.broker = run.measurements.filter((m) => m.scenario === 'broker').sort((a, b) => a.repeat - b.repeat);
    this.workersN = Math.max(1, ...this.fanout.map((m) => Number(m.params.workers ?? 1)));
  }
  of(target: string, mode: Mode): LoadMeasurement[] {
    return this.fanout.filter((m) => m.target === target && m.params.broker === mode.broker && Number(m.params.workers ?? 1) === mode.workers).sort((a, b) => a.repeat - b.repeat);
  }
  fig(target: string, mode: Mode, key: string): number {
    return med(this.of(target, mode).map((m) => m.figures[key] ?? Number.NaN));
  }
  /** a/b within each repeat both were measured in: per-repeat ratios and their median. */
  ratio(a: [string, Mode], b: [string, Mode], key: string): { runs: number[]; median: number } {
    const bs = new Map(this.of(...b).map((m) => [m.repeat, m.figures[key] ?? Number.NaN]));
    const runs = this.of(...a)
      .filter((m) => bs.has(m.repeat))
      .map((m) => (m.figures[key] ?? Number.NaN) / bs.get(m.repeat)!);
    return { runs, median: med(runs) };
  }
  label(target: string): string {
    return this.run.targets.find((t) => t.id === target)?.label ?? target;
  }
  /** Targets with cluster measurements, relaykit first (node, bun, deno), then the peers. */
  targets(): string[] {
    const ids = [...new Set(this.fanout.map((m) => m.target))];
    const rank = (id: string) => {
      const i = RUNTIMES.findIndex((rt) => id === `relaykit-${rt}`);
      return i >= 0 ? i : 10;
    };
    return ids.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  }
  modes(): Mode[] {
    const out: Mode[] = [{ broker: 'memory', workers: 1 }, { broker: 'redis', workers: 1 }];
    if (this.workersN > 1) out.push({ broker: 'redis', workers: this.workersN });
    return out;
  }
}

const modeName = (m: Mode) => (m.broker === 'memory' ? 'in memory' : m.workers > 1 ? `Redis, WORKERS=${m.workers}` : 'Redis');
const MEMORY: Mode = { broker: 'memory', workers: 1 };
const REDIS: Mode = { broker: 'redis', workers: 1 };

interface Line {
  what: string;
  wanted: string;
  measured: string;
  ok: boolean | undefined;
}

const runsText = (r: { runs: number[] }, d = 2) => `[${r.runs.map((x) => f1(x, d)).join(', ')}]`;

function lines(v: ClusterView): Line[] {
  const out: Line[] = [];
  const n = f0(med(v.fanout.map((m) => Number(m.params.subscribers))));
  const N = v.workersN;
  const centrifugo = 'peer-centrifugo';
  const hasCentrifugo = v.of(centrifugo, REDIS).length > 0;
  for (const rt of RUNTIMES) {
    const id = `relaykit-${rt}`;
    if (!v.of(id, REDIS).length) continue;
    const cpu = v.ratio([id, REDIS], [id, MEMORY], 'usPerEvent');
    out.push({
      what: `${rt}: server CPU per delivered event on Redis vs in memory, ${n} subscribers`,
      wanted: `≤ ${CLUSTER_TARGETS.redisCpu}×`,
      measured: `${f1(v.fig(id, REDIS, 'usPerEvent'), 2)} vs ${f1(v.fig(id, MEMORY, 'usPerEvent'), 2)} µs → ${f1(cpu.median, 2)}× ${runsText(cpu)}`,
      ok: Number.isFinite(cpu.median) ? cpu.median <= CLUSTER_TARGETS.redisCpu : undefined,
    });
    const p99 = v.ratio([id, REDIS], [id, MEMORY], 'p99Ms');
    out.push({
      what: `${rt}: p99 publish→deliver on Redis vs in memory`,
      wanted: `≤ ${CLUSTER_TARGETS.redisP99}×`,
      measured: `${f1(v.fig(id, REDIS, 'p99Ms'))} vs ${f1(v.fig(id, MEMORY, 'p99Ms'))} ms → ${f1(p99.median, 2)}× ${runsText(p99)}`,
      ok: Number.isFinite(p99.median) ? p99.median <= CLUSTER_TARGETS.redisP99 : undefined,
    });
    if (N > 1) {
      const wN: Mode = { broker: 'redis', workers: N };
      const w = v.ratio([id, wN], [id, REDIS], 'usPerEvent');
      const tput = v.ratio([id, wN], [id, REDIS], 'burstDeliveredPerS');
      out.push({
        what: `${rt}: CPU per delivered event, WORKERS=${N} vs WORKERS=1 (both on Redis); throughput factor beside`,
        wanted: `≤ ${CLUSTER_TARGETS.workersCpu}×`,
        measured: `${f1(v.fig(id, wN, 'usPerEvent'), 2)} vs ${f1(v.fig(id, REDIS, 'usPerEvent'), 2)} µs → ${f1(w.median, 2)}× ${runsText(w)}; burst deliveries/s ×${f1(tput.median, 2)} ${runsText(tput)}`,
        ok: Number.isFinite(w.median) ? w.median <= CLUSTER_TARGETS.workersCpu : undefined,
      });
    }
    for (const [key, unit, what] of [
      ['kbPerConn', 'KB', 'memory per connection'],
      ['usPerEvent', 'µs', 'server CPU per delivered event'],
    ] as const) {
      const r = v.ratio([id, REDIS], [centrifugo, REDIS], key);
      out.push({
        what: `${rt}: ${what}, relaykit on Redis vs Centrifugo on Redis`,
        wanted: '≤ 1× Centrifugo',
        measured: hasCentrifugo ? `${f1(v.fig(id, REDIS, key), 2)} vs ${f1(v.fig(centrifugo, REDIS, key), 2)} ${unit} → ${f1(r.median, 2)}× ${runsText(r)}` : 'Centrifugo not run',
        ok: hasCentrifugo && Number.isFinite(r.median) ? r.median <= 1 : undefined,
      });
    }
  }
  if (v.broker.length) {
    const perS = v.broker.map((m) => m.figures.ackedPerS ?? Number.NaN);
    const mPerS = med(perS);
    out.push({
      what: `broker path: acked publishes/s on one Redis, topics without subscribers, ${v.broker[0]!.params.publishers} WebSocket publishers over ${String(v.broker[0]!.params.instances).split(',').length} instances`,
      wanted: `≥ ${f0(CLUSTER_TARGETS.brokerPerS)}/s`,
      measured: `${f0(mPerS)}/s [${perS.map(f0).join(', ')}]; Redis ${f1(med(v.broker.map((m) => m.figures.redisUsPerPublish ?? Number.NaN)), 1)} µs per publish`,
      ok: Number.isFinite(mPerS) ? mPerS >= CLUSTER_TARGETS.brokerPerS : undefined,
    });
  }
  const errs = [...v.fanout, ...v.broker].reduce((a, m) => a + Object.values(m.errors).reduce((x, y) => x + y, 0), 0);
  out.push({ what: 'every cluster configuration: connections subscribed, none dropped, every publish accepted, every event delivered', wanted: '0 errors', measured: `${errs} errors`, ok: errs === 0 });
  return out;
}

/** The section's charts in `chartDir`: file names by key. */
function charts(v: ClusterView, chartDir: string): Record<string, string> {
  const ids = v.targets();
  const modes = v.modes();
  const files: Record<string, string> = {};
  const n = f0(med(v.fanout.map((m) => Number(m.params.subscribers))));
  const bars = (file: string, title: string, yLabel: string, key: string) => {
    writeFileSync(
      join(chartDir, file),
      barChart(
        { title, xLabel: 'target', yLabel, width: 900 },
        ids.map(short),
        modes.map((mode) => ({ name: modeName(mode), values: ids.map((id) => v.fig(id, mode, key)) })),
      ),
    );
    files[key] = file;
  };
  bars('cluster-cpu-per-event.svg', `Server CPU per delivered event, ${n} WS subscribers (median)`, 'µs per delivered event (process tree)', 'usPerEvent');
  bars('cluster-p99.svg', `p99 publish→deliver, ${n} WS subscribers (median)`, 'p99 (ms)', 'p99Ms');
  bars('cluster-deliveries.svg', 'Sustained deliveries per second, burst rounds (median)', 'deliveries/s', 'burstDeliveredPerS');
  bars('cluster-memory.svg', `Server RSS per subscribed connection at ${n} (median)`, 'KB per connection (process tree)', 'kbPerConn');
  if (v.broker.length) {
    const cats = v.broker.map((m) => `repeat ${m.repeat}`);
    writeFileSync(
      join(chartDir, 'cluster-broker.svg'),
      barChart({ title: 'Broker path: acked publishes/s on one Redis, no subscribers', xLabel: 'repeat', yLabel: 'acked publishes/s', width: 900 }, cats, [
        ...RUNTIMES.filter((rt) => v.broker.some((m) => m.figures[`ackedPerS_${rt}`] !== undefined)).map((rt) => ({ name: `via relaykit ${rt}`, values: v.broker.map((m) => m.figures[`ackedPerS_${rt}`] ?? Number.NaN) })),
        { name: 'all three', values: v.broker.map((m) => m.figures.ackedPerS ?? Number.NaN) },
        { name: `target ${f0(CLUSTER_TARGETS.brokerPerS)}/s`, values: v.broker.map(() => CLUSTER_TARGETS.brokerPerS) },
      ]),
    );
    files.broker = 'cluster-broker.svg';
  }
  return files;
}

const cell = (xs: number[], d: number) => (xs.length > 1 ? `${f1(med(xs), d)} <sub>[${xs.map((x) => f1(x, d)).join(', ')}]</sub>` : f1(xs[0], d));

/**
 * The markdown lines of the section (charts written to `chartDir`, linked through `rel`);
 * `standalone`: the report is of this run alone, whose errors the report lists anyway.
 */
export function clusterSection(run: LoadRun, chartDir: string, rel: (name: string) => string, standalone: boolean): string[] {
  const v = new ClusterView(run);
  const files = charts(v, chartDir);
  const L: string[] = [];
  const push = (...xs: string[]) => L.push(...xs);
  const repeats = Math.max(1, ...[...v.fanout, ...v.broker].map((m) => m.repeat));
  const first = v.fanout[0] ?? v.broker[0];
  const p = first?.params ?? {};
  const loads = [...v.fanout, ...v.broker].map((m) => m.loadavg1);
  push('## Cluster: relaykit on Redis, WORKERS, peers on Redis', '');
  push(
    `Run ${run.startedAt} → ${run.finishedAt} (${run.profile} profile), ${repeats} repeat${repeats > 1 ? 's' : ''}; load average (1 min) at the start of each configuration ${loads.length ? `${Math.min(...loads).toFixed(2)}–${Math.max(...loads).toFixed(2)}` : '—'}. ` +
      `Each configuration is a fresh server holding ${f0(Number(p.subscribers))} WebSocket subscribers on one topic, driven by ${p.loadWorkers ?? '?'} load workers: in memory, on one Redis (redis-server started by the runner, no persistence) with WORKERS=1, and with WORKERS=${v.workersN} (SO_REUSEPORT, CPU and RSS over the process tree); the peers on the same Redis. ` +
      `Paced: ${p.events ?? '?'} HTTP publishes at ${p.rate ?? '?'}/s (latency, CPU per delivered event). Burst: for ${p.burstS ?? '?'} s, rounds of publishes as fast as they go, each drained by every subscriber before the next (sustained deliveries/s). ` +
      'Ratios are taken within a repeat; the median of the repeats\' ratios is checked, per-repeat values in brackets.' +
      (standalone ? '' : ' Its JSON is [load-report-cluster.json](load-report-cluster.json) beside this file.'),
    '',
  );
  push('### Targets (issue 7, cluster)', '', '| target | wanted | measured | |', '|---|---|---|---|');
  const checks = lines(v);
  for (const c of checks) push(`| ${c.what} | ${c.wanted} | ${c.measured} | ${c.ok === undefined ? 'n/a' : c.ok ? 'met' : '**missed**'} |`);
  push('');
  const missed = checks.filter((c) => c.ok === false);
  if (missed.length) push('Missed:', '', ...missed.map((c) => `- ${c.what}: ${c.measured} (wanted ${c.wanted})`), '');
  if (run.errors.length && !standalone) push('Errors of this run:', '', ...run.errors.map((e) => `- ${e.split('\n')[0]}`), '');
  push('### Fan-out', '');
  push(
    '| target | broker | KB/conn | p50 (ms) | p99 (ms) | µs/event | Redis µs/publish | deliveries/s paced | deliveries/s burst | µs/event burst | server cores burst | Redis cores burst | driver cores burst | errors |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const id of v.targets())
    for (const mode of v.modes()) {
      const ms = v.of(id, mode);
      if (!ms.length) continue;
      const each = (key: string) => ms.map((m) => m.figures[key] ?? Number.NaN);
      const errs = ms.reduce((a, m) => a + Object.values(m.errors).reduce((x, y) => x + y, 0), 0);
      push(
        `| ${v.label(id)} | ${modeName(mode)} | ${cell(each('kbPerConn'), 1)} | ${cell(each('p50Ms'), 1)} | ${cell(each('p99Ms'), 1)} | ${cell(each('usPerEvent'), 2)} | ${cell(each('redisUsPerPublish'), 1)} | ${f0(med(each('deliveredPerS')))} | ${f0(med(each('burstDeliveredPerS')))} | ${cell(each('burstUsPerEvent'), 2)} | ${f1(med(each('burstServerCores')), 2)} | ${f1(med(each('burstRedisCores')), 2)} | ${f1(med(each('burstDriverCores')), 2)} | ${errs} |`,
      );
    }
  push('');
  for (const key of ['usPerEvent', 'p99Ms', 'burstDeliveredPerS', 'kbPerConn']) if (files[key]) push(`![cluster ${key}](${rel(files[key]!)})`, '');
  if (v.broker.length) {
    push('### Broker path (topics without subscribers)', '');
    push(`${String(v.broker[0]!.params.instances).split(',').join(' + ')} at once on one Redis (one key prefix: one cluster), WebSocket publish frames spread evenly over them, each publisher keeping ${v.broker[0]!.params.window} awaiting their ack, for ${v.broker[0]!.params.durationS} s; every ack is a publish Redis ran (idempotency, id, XADD, PUBLISH).`, '');
    const rts = RUNTIMES.filter((rt) => v.broker.some((m) => m.figures[`cores_${rt}`] !== undefined));
    push(
      `| repeat | publishers × window | acked publishes/s | server µs/publish (all) | ${rts.map((rt) => `${rt}: acked/s, µs/publish, cores`).join(' | ')} | Redis µs/publish | Redis cores | driver cores | errors |`,
      `|---|---|---|---|${rts.map(() => '---|').join('')}---|---|---|---|`,
    );
    for (const m of v.broker) {
      const f = m.figures;
      const own = (rt: string) => `${f0(f[`ackedPerS_${rt}`])}, ${f1(f[`usPerPublish_${rt}`], 1)}, ${f1(f[`cores_${rt}`], 2)}`;
      push(`| ${m.repeat} | ${m.params.publishers} × ${m.params.window} | ${f0(f.ackedPerS)} | ${f1(f.usPerPublish, 1)} | ${rts.map(own).join(' | ')} | ${f1(f.redisUsPerPublish, 1)} | ${f1(f.redisCores, 2)} | ${f1(m.driver.cpuCores, 2)} | ${Object.values(m.errors).reduce((a, b) => a + b, 0)} |`);
    }
    push('');
    if (files.broker) push(`![broker path](${rel(files.broker)})`, '');
  }
  push('### How the cluster figures were measured', '');
  push(
    '- Server CPU: utime+stime from /proc/PID/stat summed over the server\'s process tree (a WORKERS=N supervisor and its workers), during the phase, divided by the events the subscribers received; it includes the publish requests and the Redis client work. Memory: (tree RSS with the subscribers connected − tree RSS before) / connected.',
    '- Redis CPU: redis-server\'s own run time, from /proc/PID/task/*/schedstat (ns; /proc/PID/stat counts 10 ms ticks, coarser than a paced phase\'s few ms of Redis work). "Redis µs/publish" is a phase\'s Redis CPU less Redis\'s idle rate with the subscribers connected (measured over the settle pause before the phases: housekeeping and the server\'s keepalives; in memory that is all there is), per publish; "Redis cores" is the raw rate. relaykit runs one Lua script per publish (idempotency, id, XADD into the topic\'s history stream, PUBLISH); Centrifugo (no history configured) PUBLISHes; Socket.IO\'s adapter PUBLISHes every broadcast for other servers.',
    '- Burst: a round is 100,000 / subscribers events (1–500); with thousands of subscribers its fan-out bounds it, with a few hundred the publishes\' own round trips (16 in flight from one runner process) do, so burst figures at small scale measure the publish path more than the fan-out.',
    '- Peers: Centrifugo v6 with `engine.type: "redis"`, `engine.redis.address`, a key prefix per configuration; Socket.IO 4 with @socket.io/redis-adapter on node-redis (load/peers/socketio-server.ts with REDIS_URL).',
  );
  push('');
  return L;
}

