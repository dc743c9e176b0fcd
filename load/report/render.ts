/**
 * Renders a LoadRun (load/results/*.json) as a markdown report plus SVG charts:
 * connections vs memory per runtime, latency percentiles vs subscribers, µs of server CPU per
 * delivered event. Each target figure is set against the issue's targets.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import type { LoadMeasurement, LoadRun } from '@relaykit/contracts';
import { clusterSection, hasCluster } from './cluster.ts';
import { f0, f1, med, short } from './format.ts';
import { hasSoak, isSoakOnly, soakSection } from './soak.ts';
import { barChart, lineChart, type Series } from './svg.ts';

const RUNTIMES = ['node', 'bun', 'deno'] as const;
const TRANSPORTS = ['ws', 'sse'] as const;
const HOLD_TARGET = 19_500;
const EFFICIENCY_TARGET = 0.8;
const LATENCY_TARGET = 1.25;
/** The issue's bare-runtime figures measured earlier on this kind of machine (field notes). */
const FIELD_NOTES: Record<string, { ws: number; sse: number; usWs: number; usSse: number }> = {
  node: { ws: 8.0, sse: 11.0, usWs: 9.3, usSse: 11.0 },
  bun: { ws: 1.8, sse: 3.4, usWs: 3.7, usSse: 4.6 },
  deno: { ws: 19.5, sse: 43.5, usWs: 7.2, usSse: 10.3 },
};


export class View {
  readonly run: LoadRun;
  constructor(run: LoadRun) {
    this.run = run;
  }
  ms(target: string, scenario: LoadMeasurement['scenario'], transport: string): LoadMeasurement[] {
    return this.run.measurements.filter((m) => m.target === target && m.scenario === scenario && m.transport === transport);
  }
  /** Median over repeats of one figure. */
  fig(target: string, scenario: LoadMeasurement['scenario'], transport: string, key: string): number {
    return med(this.ms(target, scenario, transport).map((m) => m.figures[key] ?? Number.NaN));
  }
  each(target: string, scenario: LoadMeasurement['scenario'], transport: string, key: string): number[] {
    return this.ms(target, scenario, transport).map((m) => m.figures[key] ?? Number.NaN);
  }
  /** Latency at the base subscriber count (the first, smaller one) of repeat 1. */
  latency(target: string, transport: string, which: 'base' | 'max' = 'base'): LoadMeasurement | undefined {
    const all = this.ms(target, 'latency', transport).sort((a, b) => (a.figures.subscribers ?? 0) - (b.figures.subscribers ?? 0) || a.repeat - b.repeat);
    return which === 'base' ? all[0] : all.length > 1 ? all[all.length - 1] : undefined;
  }
  /** p99 latency at the base subscriber count, per repeat and their median. */
  p99AtBase(target: string, transport: string): { runs: number[]; median: number } {
    const all = this.ms(target, 'latency', transport);
    const base = Math.min(...all.map((m) => m.figures.subscribers ?? Number.POSITIVE_INFINITY));
    const runs = all.filter((m) => m.figures.subscribers === base).sort((x, y) => x.repeat - y.repeat).map((m) => m.figures.p99Ms ?? Number.NaN);
    return { runs, median: med(runs) };
  }
  errors(target: string, transport?: string): number {
    return this.run.measurements
      .filter((m) => m.target === target && (!transport || m.transport === transport))
      .reduce((n, m) => n + Object.values(m.errors).reduce((a, b) => a + b, 0), 0);
  }
  has(target: string): boolean {
    return this.run.measurements.some((m) => m.target === target);
  }
  label(target: string): string {
    return this.run.targets.find((t) => t.id === target)?.label ?? target;
  }
}

interface Check {
  runtime: string;
  what: string;
  target: string;
  measured: string;
  ok: boolean | undefined;
  miss?: string;
}

function checks(v: View): Check[] {
  const out: Check[] = [];
  const holdN = v.run.limits.connectionsPerServer;
  for (const rt of RUNTIMES) {
    const app = `relaykit-${rt}`;
    const bare = `bare-${rt}`;
    if (!v.has(app)) {
      out.push({ runtime: rt, what: 'all targets', target: '—', measured: 'not measured', ok: undefined, miss: `relaykit-${rt} did not run: ${v.run.targets.find((t) => t.id === app)?.skipped ?? 'see errors'}` });
      continue;
    }
    for (const tr of TRANSPORTS) {
      const maxHeld = v.fig(app, 'connections', tr, 'maxConnected');
      const held = Number.isFinite(maxHeld) ? maxHeld : v.fig(app, 'connections', tr, 'connected');
      const errs = v.ms(app, 'connections', tr).filter((m) => m.repeat === 1).reduce((n, m) => n + Object.values(m.errors).reduce((a, b) => a + b, 0), 0);
      const ok = held >= HOLD_TARGET && errs === 0;
      out.push({
        runtime: rt,
        what: `holds ${HOLD_TARGET.toLocaleString('en-US')} ${tr.toUpperCase()} connections, subscribed, 0 errors`,
        target: `≥ ${HOLD_TARGET.toLocaleString('en-US')}, 0 errors`,
        measured: `${f0(held)} held, ${errs} errors`,
        ok: holdN >= HOLD_TARGET ? ok : undefined,
        ...(ok ? {} : { miss: `${f0(held)} of ${f0(HOLD_TARGET)} ${tr.toUpperCase()} connections held with ${errs} errors` }),
      });
    }
    for (const tr of TRANSPORTS) {
      const a = v.fig(app, 'connections', tr, 'kbPerConn');
      const b = v.fig(bare, 'connections', tr, 'kbPerConn');
      const ratio = b / a;
      out.push({
        runtime: rt,
        what: `memory per idle subscribed ${tr.toUpperCase()} connection at ${f0(v.fig(app, 'connections', tr, 'n'))}`,
        target: `bare/relaykit ≥ ${EFFICIENCY_TARGET}`,
        measured: `${f1(a)} KB vs bare ${f1(b)} KB → ${f1(ratio, 2)}`,
        ok: Number.isFinite(ratio) ? ratio >= EFFICIENCY_TARGET : undefined,
        ...(ratio < EFFICIENCY_TARGET ? { miss: `${tr.toUpperCase()} memory: ${f1(a)} KB/conn vs bare ${f1(b)} KB: ${f1(ratio, 2)} of bare efficiency, ${f1(EFFICIENCY_TARGET - ratio, 2)} short of ${EFFICIENCY_TARGET} (relaykit would need ≤ ${f1(b / EFFICIENCY_TARGET)} KB)` } : {}),
      });
    }
    for (const tr of TRANSPORTS) {
      const a = v.fig(app, 'cpu', tr, 'usPerEvent');
      const b = v.fig(bare, 'cpu', tr, 'usPerEvent');
      const ratio = b / a;
      out.push({
        runtime: rt,
        what: `server CPU per delivered ${tr.toUpperCase()} event`,
        target: `bare/relaykit ≥ ${EFFICIENCY_TARGET}`,
        measured: `${f1(a, 2)} µs vs bare ${f1(b, 2)} µs → ${f1(ratio, 2)}`,
        ok: Number.isFinite(ratio) ? ratio >= EFFICIENCY_TARGET : undefined,
        ...(ratio < EFFICIENCY_TARGET ? { miss: `${tr.toUpperCase()} CPU: ${f1(a, 2)} µs/event vs bare ${f1(b, 2)} µs: ${f1(ratio, 2)} of bare efficiency, ${f1(EFFICIENCY_TARGET - ratio, 2)} short (relaykit would need ≤ ${f1(b / EFFICIENCY_TARGET, 2)} µs)` } : {}),
      });
    }
    for (const tr of TRANSPORTS) {
      const a = v.latency(app, tr);
      const b = v.latency(bare, tr);
      const ap = v.p99AtBase(app, tr);
      const bp = v.p99AtBase(bare, tr);
      const ratio = ap.median / bp.median;
      out.push({
        runtime: rt,
        what: `p99 publish→deliver, ${f0(a?.figures.subscribers)} ${tr.toUpperCase()} subscribers at ${a?.params.rate ?? '?'} event/s`,
        target: `≤ ${LATENCY_TARGET}× bare p99`,
        measured: `${f1(ap.median)} ms vs bare ${f1(bp.median)} ms → ${f1(ratio, 2)}× (median of ${ap.runs.length}: [${ap.runs.map((x) => f1(x)).join(', ')}] vs [${bp.runs.map((x) => f1(x)).join(', ')}])`,
        ok: Number.isFinite(ratio) ? ratio <= LATENCY_TARGET : undefined,
        ...(ratio > LATENCY_TARGET ? { miss: `${tr.toUpperCase()} p99 latency ${f1(ap.median)} ms is ${f1(ratio, 2)}× bare's ${f1(bp.median)} ms (target ≤ ${LATENCY_TARGET}×, ${f1(ratio - LATENCY_TARGET, 2)}× over)` } : {}),
      });
    }
  }
  return out;
}

function chartFiles(v: View, chartDir: string): Record<string, string> {
  mkdirSync(chartDir, { recursive: true });
  const files: Record<string, string> = {};
  const targets = v.run.targets.filter((t) => v.has(t.id));
  for (const tr of TRANSPORTS) {
    const series: Series[] = [];
    for (const t of targets) {
      if (!t.transports.includes(tr)) continue;
      const first = v.ms(t.id, 'connections', tr).find((m) => m.repeat === 1);
      if (!first) continue;
      const f = first.figures;
      const pts: Array<[number, number]> = [[0, (f.rssIdleKb ?? 0) / 1024]];
      if (f.connected) pts.push([f.connected, (f.rssKb ?? 0) / 1024]);
      if (f.maxConnected) pts.push([f.maxConnected, (f.maxRssKb ?? 0) / 1024]);
      series.push({ name: t.label, points: pts, dashed: t.kind !== 'relaykit' });
    }
    const name = `connections-memory-${tr}.svg`;
    writeFileSync(join(chartDir, name), lineChart({ title: `Server RSS vs ${tr.toUpperCase()} connections (subscribed, idle)`, xLabel: 'connections', yLabel: 'server RSS (MB)' }, series));
    files[`mem-${tr}`] = name;

    const lat: Series[] = [];
    for (const t of targets) {
      if (!t.transports.includes(tr)) continue;
      const ms = v.ms(t.id, 'latency', tr);
      if (!ms.length) continue;
      const byN = new Map<number, number[]>();
      for (const m of ms) byN.set(m.figures.subscribers ?? 0, [...(byN.get(m.figures.subscribers ?? 0) ?? []), m.figures.p99Ms ?? Number.NaN]);
      lat.push({ name: `${t.label} p99`, points: [...byN].map(([n, p99s]) => [n, med(p99s)] as [number, number]), dashed: t.kind !== 'relaykit' });
    }
    const lname = `latency-p99-${tr}.svg`;
    writeFileSync(join(chartDir, lname), lineChart({ title: `p99 publish→deliver vs ${tr.toUpperCase()} subscribers (1 event/s)`, xLabel: 'subscribers', yLabel: 'p99 latency (ms)' }, lat));
    files[`lat-${tr}`] = lname;

    const pct = targets.filter((t) => t.transports.includes(tr) && v.latency(t.id, tr));
    const pname = `latency-percentiles-${tr}.svg`;
    writeFileSync(
      join(chartDir, pname),
      barChart(
        { title: `Latency percentiles, ${f0(v.latency(pct[0]?.id ?? '', tr)?.figures.subscribers)} ${tr.toUpperCase()} subscribers`, xLabel: 'target', yLabel: 'publish→deliver (ms)', width: 900 },
        pct.map((t) => short(t.id)),
        (['p50Ms', 'p90Ms', 'p99Ms', 'p999Ms'] as const).map((k) => ({ name: k.replace('Ms', '').replace('p999', 'p99.9'), values: pct.map((t) => v.latency(t.id, tr)?.figures[k] ?? Number.NaN) })),
      ),
    );
    files[`pct-${tr}`] = pname;
  }
  const cpuTargets = targets.filter((t) => TRANSPORTS.some((tr) => v.ms(t.id, 'cpu', tr).length));
  writeFileSync(
    join(chartDir, 'cpu-per-event.svg'),
    barChart(
      { title: 'Server CPU per delivered event (median of repeats)', xLabel: 'target', yLabel: 'µs of server CPU per delivered event', width: 900 },
      cpuTargets.map((t) => short(t.id)),
      TRANSPORTS.map((tr) => ({ name: tr.toUpperCase(), values: cpuTargets.map((t) => v.fig(t.id, 'cpu', tr, 'usPerEvent')) })),
    ),
  );
  files.cpu = 'cpu-per-event.svg';
  writeFileSync(
    join(chartDir, 'memory-per-connection.svg'),
    barChart(
      { title: 'Server RSS per idle subscribed connection (median of repeats)', xLabel: 'target', yLabel: 'KB per connection', width: 900 },
      cpuTargets.map((t) => short(t.id)),
      TRANSPORTS.map((tr) => ({ name: tr.toUpperCase(), values: cpuTargets.map((t) => v.fig(t.id, 'connections', tr, 'kbPerConn')) })),
    ),
  );
  files.memBars = 'memory-per-connection.svg';
  // One bar per transport and subscriber count: how the fan-out cost per subscriber holds as a room grows.
  const tpTargets = targets.filter((t) => TRANSPORTS.some((tr) => v.ms(t.id, 'throughput', tr).length));
  const tpSeries = TRANSPORTS.flatMap((tr) => {
    const counts = [...new Set(tpTargets.flatMap((t) => v.ms(t.id, 'throughput', tr).map((m) => Number(m.params.subscribers))))].sort((a, b) => a - b);
    return counts.map((n) => ({
      name: `${tr.toUpperCase()}, ${f0(n)} subscribers`,
      values: tpTargets.map((t) => v.ms(t.id, 'throughput', tr).find((m) => Number(m.params.subscribers) === n)?.figures.usPerDelivered ?? Number.NaN),
    }));
  });
  writeFileSync(
    join(chartDir, 'throughput-per-delivered.svg'),
    barChart(
      { title: 'Publish throughput: server CPU per delivered event', xLabel: 'target', yLabel: 'µs of server CPU per delivered event', width: 900 },
      tpTargets.map((t) => short(t.id)),
      tpSeries,
    ),
  );
  files.throughput = 'throughput-per-delivered.svg';
  return files;
}

/** Where the report says a run's JSON is: beside docs/load-report.md for the runs written there. */
const JSON_HOME: Record<LoadRun['profile'], string> = {
  full: '[load-report.json](load-report.json) beside this file',
  cluster: '[load-report-cluster.json](load-report-cluster.json) beside this file (with `--docs`), else under load/results/',
  quick: 'under load/results/',
};
const SOAK_JSON_HOME = '[load-report-soak.json](load-report-soak.json) beside this file (with `--docs`), else under load/results/';

/**
 * Renders `run` as `dir/file` with its charts in `chartDir`. The cluster section comes from
 * `cluster` (the cluster profile's own run, for docs/) or else from `run`'s own cluster
 * measurements; a run of the cluster suite alone renders as that section with the machine. The
 * soak section likewise comes from `soak` (the soak suite's own run) or from `run`.
 */
export function renderReport(run: LoadRun, dir: string, file: string, chartDir = join(dir, 'charts'), cluster?: LoadRun, soak?: LoadRun): string {
  mkdirSync(dir, { recursive: true });
  mkdirSync(chartDir, { recursive: true });
  const rel = (name: string) => `${relative(dir, chartDir) || '.'}/${name}`;
  const L: string[] = [];
  const push = (...lines: string[]) => L.push(...lines);
  const out = join(dir, file);
  const clusterRun = cluster ?? (hasCluster(run) ? run : undefined);
  if (clusterRun === run && run.measurements.every((m) => m.scenario === 'cluster' || m.scenario === 'broker')) {
    push(...header(run), ...clusterSection(run, chartDir, rel, true), ...errorsAndNotes(run));
    writeFileSync(out, `${L.join('\n')}\n`);
    return out;
  }
  if (isSoakOnly(run)) {
    push(...header(run), ...soakSection(run), ...errorsAndNotes(run));
    writeFileSync(out, `${L.join('\n')}\n`);
    return out;
  }
  const soakRun = soak ?? (hasSoak(run) ? run : undefined);
  const v = new View(run);
  const charts = chartFiles(v, chartDir);
  const targets = run.targets.filter((t) => v.has(t.id));

  push(...header(run));

  push('## Targets', '', '| runtime | target | wanted | measured | |', '|---|---|---|---|---|');
  const cs = checks(v);
  for (const c of cs) push(`| ${c.runtime} | ${c.what} | ${c.target} | ${c.measured} | ${c.ok === undefined ? 'n/a' : c.ok ? 'met' : '**missed**'} |`);
  push('');
  const misses = cs.filter((c) => c.ok === false || (c.ok === undefined && c.what === 'all targets'));
  if (misses.length) {
    push('### Targets missed', '');
    for (const c of misses) push(`- **${c.runtime}**: ${c.miss ?? c.what}`);
    push('');
  }
  const notesFile = join(dir, 'load-report-notes.md');
  if (run.profile === 'full' && existsSync(notesFile)) push(readFileSync(notesFile, 'utf8').trim(), '');

  push('## Efficiency: relaykit vs bare runtime vs peers', '');
  push(`Median of ${Math.max(...run.measurements.map((m) => m.repeat), 1)} runs (each in a fresh server process, relaykit and bare side by side); per-run values in brackets. "field notes" are the bare figures measured earlier on this kind of machine.`, '');
  push('| target | WS KB/conn | SSE KB/conn | WS µs/event | SSE µs/event | driver cores (WS cpu phase) |', '|---|---|---|---|---|---|');
  for (const t of targets) {
    const cell = (sc: 'connections' | 'cpu', tr: string, key: string, d: number) => {
      const each = v.each(t.id, sc, tr, key);
      return each.length ? `${f1(med(each), d)} <sub>[${each.map((x) => f1(x, d)).join(', ')}]</sub>` : '—';
    };
    push(`| ${t.label} | ${cell('connections', 'ws', 'kbPerConn', 1)} | ${cell('connections', 'sse', 'kbPerConn', 1)} | ${cell('cpu', 'ws', 'usPerEvent', 2)} | ${cell('cpu', 'sse', 'usPerEvent', 2)} | ${f1(med(v.ms(t.id, 'cpu', 'ws').map((m) => m.driver.cpuCores)), 2)} |`);
  }
  for (const rt of RUNTIMES) {
    const n = FIELD_NOTES[rt]!;
    push(`| field notes: bare ${rt} | ${n.ws} | ${n.sse} | ${n.usWs} | ${n.usSse} | |`);
  }
  push('', `![memory per connection](${rel(charts.memBars!)})`, '', `![CPU per event](${rel(charts.cpu!)})`, '');

  push('## Connections held', '');
  push('| target | transport | connected (of) | RSS idle → at N → at max (MB) | KB/conn at N | KB/conn at max | held at max (s) | connect p99 (ms) | errors |', '|---|---|---|---|---|---|---|---|---|');
  for (const t of targets)
    for (const tr of t.transports) {
      const m = v.ms(t.id, 'connections', tr).find((x) => x.repeat === 1);
      if (!m) continue;
      const f = m.figures;
      push(`| ${t.label} | ${tr.toUpperCase()} | ${f0(f.maxConnected ?? f.connected)} (${f0(f.maxN ?? f.n)}) | ${f1((f.rssIdleKb ?? 0) / 1024)} → ${f1((f.rssKb ?? 0) / 1024)} → ${f1((f.maxRssKb ?? Number.NaN) / 1024)} | ${f1(f.kbPerConn)} | ${f1(f.kbPerConnAtMax)} | ${f1(f.heldS, 0)} | ${f1(f.connectP99Ms)} | ${Object.values(m.errors).reduce((a, b) => a + b, 0)} |`);
    }
  push('', `![connections vs memory, WS](${rel(charts['mem-ws']!)})`, '', `![connections vs memory, SSE](${rel(charts['mem-sse']!)})`, '');

  push('## Fan-out latency (publish → deliver)', '');
  push('One publisher (HTTP POST) at 1 event/s; each event carries its publish time; every subscriber records now − t. One event to N subscribers costs about N × (µs/event) of one server thread, so the absolute figure is mostly the runtime\'s.', '');
  push('| target | transport | subscribers | events | delivered | p50 | p90 | p99 | p99.9 | max (ms) | server cores | driver cores |', '|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const t of targets)
    for (const tr of t.transports)
      for (const m of v.ms(t.id, 'latency', tr)) {
        const f = m.figures;
        push(`| ${t.label} | ${tr.toUpperCase()} | ${f0(f.subscribers)} | ${f0(f.events)} | ${f0(f.delivered)} / ${f0(f.expected)} | ${f1(f.p50Ms)} | ${f1(f.p90Ms)} | ${f1(f.p99Ms)} | ${f1(f.p999Ms)} | ${f1(f.maxMs)} | ${f1(m.server.cpuCores, 2)} | ${f1(m.driver.cpuCores, 2)} |`);
      }
  push('', `![latency percentiles WS](${rel(charts['pct-ws']!)})`, '', `![latency percentiles SSE](${rel(charts['pct-sse']!)})`, '', `![p99 vs subscribers WS](${rel(charts['lat-ws']!)})`, '', `![p99 vs subscribers SSE](${rel(charts['lat-sse']!)})`, '');

  push('## CPU per delivered event', '');
  push('| target | transport | run | subscribers | rate (events/s) | delivered | server CPU (ms) | µs/event | server cores | driver cores |', '|---|---|---|---|---|---|---|---|---|---|');
  for (const t of targets)
    for (const tr of t.transports)
      for (const m of v.ms(t.id, 'cpu', tr))
        push(`| ${t.label} | ${tr.toUpperCase()} | ${m.repeat} | ${f0(m.figures.subscribers)} | ${m.params.rate} | ${f0(m.figures.delivered)} | ${f0(m.figures.serverCpuMs)} | ${f1(m.figures.usPerEvent, 2)} | ${f1(m.server.cpuCores, 2)} | ${f1(m.driver.cpuCores, 2)} |`);
  push('');

  push('## Publish throughput (WebSocket publish frames, acked)', '');
  push('Server µs per delivered event = server CPU / (acked publishes × subscribers): the fan-out cost per subscriber.', '');
  push('| target | subscribed over | publishers × window | subscribers | acked publishes/s | deliveries/s | server µs per publish | server µs per delivered event | server cores | driver cores |', '|---|---|---|---|---|---|---|---|---|---|');
  for (const t of targets)
    for (const tr of t.transports)
      for (const m of v.ms(t.id, 'throughput', tr))
        push(`| ${t.label} | ${tr.toUpperCase()} | ${m.params.publishers} × ${m.params.window} | ${m.params.subscribers} | ${f0(m.figures.ackedPerS)} | ${f0(m.figures.deliveredPerS)} | ${f1(m.figures.usPerPublish, 1)} | ${m.figures.usPerDelivered === undefined ? '–' : f1(m.figures.usPerDelivered, 3)} | ${f1(m.server.cpuCores, 2)} | ${f1(m.driver.cpuCores, 2)} |`);
  push('', `![throughput per delivered event](${rel(charts.throughput!)})`, '');
  push('## Connection churn (connect → subscribed → close)', '');
  push('| target | transport | lanes | cycles/s | p50 (ms) | p99 (ms) | RSS before → after (MB) | errors |', '|---|---|---|---|---|---|---|---|');
  for (const t of targets)
    for (const tr of t.transports)
      for (const m of v.ms(t.id, 'churn', tr))
        push(`| ${t.label} | ${tr.toUpperCase()} | ${m.params.lanes} | ${f0(m.figures.cyclesPerS)} | ${f1(m.figures.p50Ms)} | ${f1(m.figures.p99Ms)} | ${f1((m.figures.rssBeforeKb ?? 0) / 1024)} → ${f1((m.figures.rssAfterKb ?? 0) / 1024)} | ${Object.values(m.errors).reduce((a, b) => a + b, 0)} |`);
  push('');

  if (clusterRun) push(...clusterSection(clusterRun, chartDir, rel, clusterRun === run));
  if (soakRun) push(...soakSection(soakRun, soakRun === run));
  push(...errorsAndNotes(run));
  push('## How this was measured', '');
  push(
    '- `pnpm load` (full profile) / `pnpm --filter @relaykit/load load:quick`: load/runner starts each server with the pinned runtime (root devDependencies), one at a time, on 127.0.0.1, and drives it with the scenario modules in load/scenarios through load/driver worker processes (each bound to its own source address 127.0.0.2, .3, … for its own ephemeral ports and its own 20,000-file limit). The same scenario modules run under k6 through load/k6/adapter.ts.',
    '- Memory per connection: (server RSS with N subscribed idle connections − RSS before the first connection) / N, after a settle pause; kernel socket memory is outside RSS.',
    '- CPU per event: server utime+stime during a publish burst (HTTP publishes at a fixed rate to every subscriber) divided by the events the clients received; it includes whatever else the server did in that window (heartbeats, the publish requests).',
    '- Bare baselines (load/baselines) speak the same wire protocol with no framework and no relaykit logic, so the same clients drive them; peers: Socket.IO 4 on Node (load/peers/socketio-server.ts) and Centrifugo (go install, JSON protocol over WebSocket).',
  );
  writeFileSync(out, `${L.join('\n')}\n`);
  return out;
}

/** Title, where the JSON is, machine, runtimes, targets run or skipped, limits. */
function header(run: LoadRun): string[] {
  const start = run.measurements.map((m) => m.loadavg1);
  return [
    `# relaykit load report (${run.profile} profile)`,
    '',
    `Run ${run.startedAt} → ${run.finishedAt}, written by \`pnpm load\` (load/runner); the run's JSON (schema \`LoadRun\` in @relaykit/contracts) is ${isSoakOnly(run) ? SOAK_JSON_HOME : JSON_HOME[run.profile]}.`,
    '',
    '## Machine and runtimes',
    '',
    `- Machine: ${run.machine.cpus} × ${run.machine.cpuModel}, ${run.machine.memGiB} GiB, Linux ${run.machine.kernel}; open files per process: ${run.machine.openFilesLimit} (hard limit).`,
    ...Object.entries(run.runtimes).map(([rt, info]) => `- ${rt}: ${info.version}, engine ${info.engine}`),
    ...run.targets.map((t) => `- ${t.label} (\`${t.id}\`, ${t.kind}): ${t.skipped ? `**not run** — ${t.skipped}` : t.version}`),
    `- Limits: ${run.limits.note}`,
    `- Load average (1 min) at the start of the run ${run.machine.loadavgAtStart.join(' / ')}; at the start of each measurement between ${Math.min(...start).toFixed(2)} and ${Math.max(...start).toFixed(2)}.`,
    "- Server CPU is utime+stime from /proc/PID/stat, RSS is VmRSS from /proc/PID/status, sampled while it runs. Driver CPU (the load workers' own) is in every table: both share the 2 cores.",
    '',
  ];
}

/** The run's errors (measurements with a failure counter above 0, failures of the run) and notes. */
function errorsAndNotes(run: LoadRun): string[] {
  const L: string[] = [];
  const errs = run.measurements.filter((m) => Object.values(m.errors).some((x) => x > 0));
  L.push('## Errors', '');
  if (!errs.length && !run.errors.length) L.push('None: every connection subscribed, none dropped, every publish was accepted and every event delivered.');
  for (const m of errs) L.push(`- ${m.target} ${m.scenario} ${m.transport} #${m.repeat}: ${Object.entries(m.errors).filter(([, x]) => x > 0).map(([k, x]) => `${k}=${x}`).join(', ')}`);
  for (const e of run.errors) L.push(`- run: ${e.split('\n')[0]}`);
  L.push('');
  if (run.notes.length) L.push('## Notes', '', ...run.notes.map((n) => `- ${n}`), '');
  return L;
}

// `node report/main.ts results/run-....json [--docs]`
export function renderFile(jsonFile: string, dir: string): string {
  const run = JSON.parse(readFileSync(jsonFile, 'utf8')) as LoadRun;
  return renderReport(run, dir, 'load-report.md', join(dir, 'charts'));
}
void dirname;
