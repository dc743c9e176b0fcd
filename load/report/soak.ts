/**
 * The soak section of the report (runner/suites/soak.ts): per runtime × transport, the series of
 * post-GC heap and RSS every block of cycles, their least-squares slopes in KB per 1,000 cycles
 * against the limits, and the connections gauges after the last cycle.
 */
import type { LoadMeasurement, LoadRun } from '@relaykit/contracts';
import { f0, f1 } from './format.ts';

export function hasSoak(run: LoadRun): boolean {
  return run.measurements.some((m) => m.scenario === 'soak');
}

/** A run of the soak suite alone (`--suites soak`): its own JSON in docs/ and its own page layout. */
export function isSoakOnly(run: LoadRun): boolean {
  return hasSoak(run) && run.measurements.every((m) => m.scenario === 'soak');
}

/** `prefix@cycles` figures in cycle order, as [cycles, value]. */
function series(m: LoadMeasurement, prefix: string): Array<[number, number]> {
  return Object.entries(m.figures)
    .filter(([k]) => k.startsWith(`${prefix}@`))
    .map(([k, v]): [number, number] => [Number(k.slice(prefix.length + 1)), v])
    .sort((a, b) => a[0] - b[0]);
}

const mb = (pts: Array<[number, number]>, d: number) => (pts.length ? pts.map(([, kb]) => f1(kb / 1024, d)).join(' ') : '—');

function slopeCell(slope: number | undefined, limit: number | undefined, judged: unknown, over: number | undefined): string {
  if (slope === undefined) return '—';
  const verdict = judged === true ? (over ? ' **over**' : ' ok') : ' <sub>(not judged)</sub>';
  return `${f1(slope)} / ${f0(limit)}${verdict}`;
}

/** `own`: `run` is the report's own run; else the soak suite's separate run (docs/load-report-soak.json), whose date, runtimes and notes are said here. */
export function soakSection(run: LoadRun, own = true): string[] {
  const ms = run.measurements.filter((m) => m.scenario === 'soak');
  if (!ms.length) return [];
  const first = ms[0]!;
  const every = Number(first.params.every);
  const L: string[] = ['## Soak (connect → subscribe → event → disconnect)', ''];
  if (!own)
    L.push(
      `From its own run, [load-report-soak.json](load-report-soak.json): ${run.startedAt} → ${run.finishedAt}, ${Object.values(run.runtimes).map((r) => r.version).join(', ')}, load average at its start ${run.machine.loadavgAtStart.join(' / ')}.`,
      ...run.notes.map((n) => `- ${n}`),
      ...run.errors.map((e) => `- run error: ${e.split('\n')[0]}`),
      '',
    );
  L.push(
    `Per runtime one fresh server; per transport ${f0(first.figures.cycles)} cycles, ${first.params.concurrency} at a time from the runner process, each a new TCP connection that resumes after the first event of its topic, receives the second (replayed) and disconnects. Every ${f0(every)} cycles the cycles pause, the server is garbage-collected (two full GCs through \`--inspect\`: Node, Deno by the DevTools protocol, V8's used heap; Bun by evaluating \`Bun.gc(true)\` in its WebKit inspector, JavaScriptCore's heap) and its RSS and used heap are read. Slopes: least squares over the marks from cycle ${f0(Number(first.params.warmup))} on (the cycles before are warm-up), KB per 1,000 cycles / limit; judged when they span at least 1,000 cycles (heap) or 4,000 cycles after a forced GC (RSS, which moves in steps of pages and allocator chunks). Gauges: \`relaykit_connections\` summed over transports after the last cycle (must be 0).`,
    '',
    '| runtime | transport | cycles ok | cycles/s | p99 (ms) | heap after GC (MB) at each mark | heap slope KB/1k | RSS (MB) at each mark | RSS slope KB/1k | gauges after | result |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const m of ms) {
    const f = m.figures;
    const runtime = run.targets.find((t) => t.id === m.target)?.runtime ?? m.target;
    const failed = Object.entries(m.errors).filter(([, v]) => v > 0);
    L.push(
      `| ${runtime} | ${m.transport === 'poll' ? 'long poll' : m.transport.toUpperCase()} | ${f0(f.completed)} / ${f0(f.cycles)} | ${f0(f.cyclesPerS)} | ${f1(f.p99Ms)} | ${mb(series(m, 'heapKb'), 2)} | ${slopeCell(f.heapSlopeKbPer1k, f.heapLimitKbPer1k, m.params.heapJudged, m.errors.heapSlopeOverLimit)} | ${mb(series(m, 'rssKb'), 1)} | ${slopeCell(f.rssSlopeKbPer1k, f.rssLimitKbPer1k, m.params.rssJudged, m.errors.rssSlopeOverLimit)} | ${f0(f.connectionsAfter)} | ${failed.length ? `**fail** (${failed.map(([k, v]) => `${k}=${v}`).join(', ')})` : 'pass'} |`,
    );
  }
  L.push('', `Marks at cycles ${series(first, 'rssKb').map(([c]) => f0(c)).join(', ')}.`, '');
  return L;
}
