/**
 * Side-by-side HTTP publish benchmark: µs of server CPU per `POST /v1/topics/<t>/events`, for an
 * older build of relaykit and this one, started alternately in the same run so that both see the
 * same machine (it is shared: medians of alternating rounds, with the spread, not one sample).
 *
 *   node load/bench/http-publish.ts [--build NAME=DIR ...] [--runtimes node,bun,deno] [--rounds 5]
 *        [--requests 4000] [--warmup 1000] [--concurrency 16] [--targets old-deno,new-deno,...]
 *        [--cpu-prof DIR] [--layers DIR]
 *
 * Each --build is a built worktree, run as targets NAME-node, NAME-bun, NAME-deno; ratios are to
 * the first. Default: `old` = ../old-67fcbcd next to this worktree (`git worktree add --detach
 * ../old-67fcbcd 67fcbcd`, then `npx -y pnpm@12.4.2 install --offline --frozen-lockfile &&
 * npx -y pnpm@12.4.2 build` in it) and `new` = this worktree. All run on this worktree's pinned
 * runtimes. Server CPU is utime+stime from /proc/<pid>/stat (all threads) over the measured
 * requests only, after a warm-up the JITs get; a 10 ms tick is ±1 % at 4,000 requests of 250 µs.
 * Besides old-<rt> and new-<rt>, the `layers` (load/bench/layers) are targets too: bare servers that
 * answer the same POST, to say what a runtime's HTTP stack costs without relaykit.
 */
import { existsSync, readdirSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { spawnServer } from '@relaykit/conformance/server';
import { cpuMs, loadavg1 } from '../runner/proc.ts';
import { startProfile } from './cpu-profile.ts';
import { median, round } from '../runner/stats.ts';
import { BIN, LOAD_DIR, ROOT, freePort, runtimeVersions } from '../runner/targets.ts';

type Runtime = 'node' | 'bun' | 'deno';
interface Target {
  id: string;
  runtime: Runtime;
  cwd: string;
  args: string[];
  /** The --build it comes from; none for a layer. */
  build?: string;
}

const { values: opts } = parseArgs({
  options: {
    build: { type: 'string', multiple: true },
    runtimes: { type: 'string', default: 'node,bun,deno' },
    targets: { type: 'string' },
    rounds: { type: 'string', default: '5' },
    requests: { type: 'string', default: '4000' },
    warmup: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '16' },
    'cpu-prof': { type: 'string' },
    layers: { type: 'string', default: join(LOAD_DIR, 'bench/layers') },
  },
});
const BUILDS = (opts.build ?? [`old=${resolve(ROOT, '../old-67fcbcd')}`, `new=${ROOT}`]).map((spec) => {
  const [name, dir] = spec.split('=') as [string, string | undefined];
  if (!dir) throw new Error(`--build ${spec}: give NAME=DIR`);
  return { name, dir: resolve(dir) };
});
const ROUNDS = Number(opts.rounds);
const REQUESTS = Number(opts.requests);
const WARMUP = Number(opts.warmup);
const CONCURRENCY = Number(opts.concurrency);
const BODY = JSON.stringify({ type: 'bench', data: { n: 1, text: 'hello' } });

const RUN_ARGS: Record<Runtime, (file: string) => string[]> = {
  node: (file) => [file],
  bun: (file) => [file],
  deno: (file) => ['run', '--allow-net', '--allow-env', file],
};

function allTargets(): Target[] {
  const targets: Target[] = [];
  for (const runtime of ['node', 'bun', 'deno'] as const) {
    for (const { name, dir } of BUILDS) {
      const cwd = join(dir, 'apps', runtime);
      if (existsSync(join(cwd, 'src/main.ts'))) targets.push({ id: `${name}-${runtime}`, runtime, cwd, args: RUN_ARGS[runtime]('src/main.ts'), build: name });
    }
  }
  // layers/<runtime>-<what>.ts: bare servers, by file name.
  const layers = resolve(opts.layers);
  for (const file of readdirSync(layers).filter((f) => f.endsWith('.ts')).sort()) {
    const runtime = file.split('-')[0] as Runtime;
    if (!(runtime in RUN_ARGS)) continue;
    // A layer dir of Deno files with its own deno.json runs with it (e.g. to import workspace packages).
    const config = existsSync(join(layers, 'deno.json')) ? [] : ['--no-config'];
    const args = runtime === 'deno' ? ['run', ...config, '--allow-net', '--allow-env', file] : [file];
    targets.push({ id: file.replace(/\.ts$/, ''), runtime, cwd: layers, args });
  }
  return targets;
}

function selected(): Target[] {
  const all = allTargets();
  if (opts.targets) {
    const ids = opts.targets.split(',');
    const unknown = ids.filter((id) => !all.some((t) => t.id === id));
    if (unknown.length) throw new Error(`unknown targets ${unknown.join(', ')}; known: ${all.map((t) => t.id).join(', ')}`);
    return ids.map((id) => all.find((t) => t.id === id)!);
  }
  const runtimes = opts.runtimes.split(',');
  return all.filter((t) => runtimes.includes(t.runtime) && t.build);
}

/** Sends `count` publishes over `CONCURRENCY` keep-alive connections; rejects on any answer but 201. */
async function publishMany(port: number, topic: string, count: number): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const path = `/v1/topics/${topic}/events`;
  const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(BODY) };
  let left = count;
  const one = () =>
    new Promise<void>((done, fail) => {
      const req = request({ host: '127.0.0.1', port, method: 'POST', path, headers, agent }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 201 ? done() : fail(new Error(`POST ${path}: ${res.statusCode}`))));
      });
      req.on('error', fail);
      req.end(BODY);
    });
  const lane = async () => {
    while (left > 0) {
      left--;
      await one();
    }
  };
  try {
    await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  } finally {
    agent.destroy();
  }
}

/** One target, started fresh: µs of server CPU per request over REQUESTS after WARMUP. */
async function measure(target: Target): Promise<{ us: number; load: number; wallMs: number }> {
  const port = await freePort();
  // --cpu-prof DIR: profiles (Node, Deno) through the inspector; CPU figures then include its cost.
  const inspectPort = opts['cpu-prof'] && target.runtime !== 'bun' ? await freePort() : undefined;
  const inspect = `--inspect=127.0.0.1:${inspectPort}`;
  const args = !inspectPort ? target.args : target.runtime === 'deno' ? ['run', inspect, ...target.args.slice(1)] : [inspect, ...target.args];
  const server = await spawnServer({
    command: [BIN[target.runtime], ...args],
    cwd: target.cwd,
    port,
    ready: 'tcp',
    // Rate limits off, as in the load runner: 4,000 POSTs from one address are far over PUBLISH_RATE.
    env: { HOST: '127.0.0.1', LOG_LEVEL: 'error', PUBLISH_RATE: '0', CONNECT_RATE: '0' },
    outputTail: 4000,
    label: target.id,
  });
  try {
    await publishMany(port, 'bench-warmup', WARMUP);
    const stopProfile = inspectPort ? await startProfile(inspectPort, join(opts['cpu-prof']!, `${target.id}.cpuprofile`)) : undefined;
    const load = loadavg1();
    const cpu0 = cpuMs(server.pid);
    const t0 = performance.now();
    await publishMany(port, 'bench', REQUESTS);
    const wallMs = performance.now() - t0;
    const used = cpuMs(server.pid) - cpu0;
    await stopProfile?.();
    return { us: (used * 1000) / REQUESTS, load, wallMs };
  } catch (error) {
    throw new Error(`${target.id}: ${String(error)}\n${server.output()}`);
  } finally {
    await server.stop();
  }
}

const targets = selected();
const versions = runtimeVersions();
console.log(`http-publish: ${REQUESTS} POSTs (after ${WARMUP} warm-up) with ${CONCURRENCY} in flight, ${ROUNDS} rounds, body ${Buffer.byteLength(BODY)} B`);
console.log(`runtimes: ${[...new Set(targets.map((t) => versions[t.runtime]!.version))].join(', ')}`);
console.log(`builds: ${BUILDS.map((b) => `${b.name} = ${b.dir}`).join(', ')}`);
const samples = new Map<string, number[]>(targets.map((t) => [t.id, []]));
for (let r = 0; r < ROUNDS; r++) {
  // Alternate the order every round, so neither build always runs first (or right after the other).
  const order = r % 2 ? [...targets].reverse() : targets;
  const line: string[] = [];
  for (const target of order) {
    const { us, load, wallMs } = await measure(target);
    samples.get(target.id)!.push(us);
    line.push(`${target.id} ${round(us, 1)} µs (${round(REQUESTS / (wallMs / 1000), 0)} req/s, load ${load})`);
  }
  console.log(`round ${r + 1}: ${line.join(' | ')}`);
}

console.log('\nµs of server CPU per request: median [min–max]');
for (const target of targets) {
  const v = samples.get(target.id)!;
  const first = BUILDS[0]!.name;
  const base = samples.get(`${first}-${target.runtime}`);
  const ratio = target.build && target.build !== first && base ? `  ×${round(median(v) / median(base), 2)} of ${first}` : '';
  console.log(`  ${target.id.padEnd(28)} ${String(round(median(v), 1)).padStart(7)} [${round(Math.min(...v), 1)}–${round(Math.max(...v), 1)}]${ratio}`);
}
