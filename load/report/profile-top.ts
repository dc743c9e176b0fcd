/**
 * Summarises .cpuprofile files (Node/Bun --cpu-prof) as self time per function, to see where a
 * server spends its CPU under load:  node report/profile-top.ts DIR_OR_FILE... [--top 20]
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
  startTime: number;
  endTime: number;
}

export function topFunctions(file: string, top = 20): string {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  if (prof.samples && prof.timeDeltas) {
    for (let i = 0; i < prof.samples.length; i++) self.set(prof.samples[i]!, (self.get(prof.samples[i]!) ?? 0) + (prof.timeDeltas[i + 1] ?? prof.timeDeltas[i] ?? 0));
  } else for (const n of prof.nodes) self.set(n.id, (n.hitCount ?? 0) * 1000);
  const agg = new Map<string, number>();
  const groups = new Map<string, number>();
  let total = 0;
  for (const [id, us] of self) {
    const n = byId.get(id);
    if (!n) continue;
    const { functionName, url, lineNumber } = n.callFrame;
    const key = `${functionName || '(anonymous)'} ${url ? `${basename(url)}:${lineNumber + 1}` : ''}`.trim();
    agg.set(key, (agg.get(key) ?? 0) + us);
    groups.set(group(functionName, url), (groups.get(group(functionName, url)) ?? 0) + us);
    total += us;
  }
  const rows = [...agg.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  const busy = total - (groups.get('idle') ?? 0);
  const groupLine = [...groups.entries()]
    .filter(([g]) => g !== 'idle')
    .sort((a, b) => b[1] - a[1])
    .map(([g, us]) => `${g} ${((100 * us) / busy).toFixed(1)}%`)
    .join(', ');
  return [`${basename(file)}: ${(total / 1e6).toFixed(2)} s sampled, ${(busy / 1e6).toFixed(2)} s busy: ${groupLine}`, ...rows.map(([k, us]) => `  ${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`)].join('\n');
}

/** Who owns a frame: relaykit's code, the server's library (ws, socket.io), the runtime's JS, native code, GC, idle. */
function group(fn: string, url: string): string {
  if (fn === '(idle)') return 'idle';
  if (fn === '(garbage collector)') return 'gc';
  if (/\/packages\/(core|contracts)\/|\/apps\//.test(url)) return 'relaykit';
  if (/\/load\/(baselines|peers)\//.test(url)) return 'bare/peer server code';
  if (/node_modules/.test(url)) return 'libraries (ws, ...)';
  if (url) return 'runtime JS';
  return 'native (syscalls, runtime internals)';
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '20' } } });
  for (const p of positionals) {
    const files = statSync(p).isDirectory() ? readdirSync(p).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(p, f)) : [p];
    for (const f of files.sort()) console.log(`${topFunctions(f, Number(values.top))}\n`);
  }
}
