import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { LISTENING_LINE, spawnServer } from '@relaykit/conformance/server';
import type { LoadTarget } from '@relaykit/contracts';

export const LOAD_DIR = fileURLToPath(new URL('..', import.meta.url));
export const ROOT = resolve(LOAD_DIR, '..');

/** Pinned runtimes: the root devDependencies node@24, bun@1.4, deno@2.9. */
export const BIN = {
  node: join(ROOT, 'node_modules/.bin/node'),
  bun: join(ROOT, 'node_modules/bun/bin/bun.exe'),
  deno: join(ROOT, 'node_modules/deno/deno'),
};

export const CENTRIFUGO_VERSION = 'v6.9.1';
export const CACHE_DIR = process.env.RELAYKIT_LOAD_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'relaykit-load');
export const CENTRIFUGO_BIN = join(CACHE_DIR, 'centrifugo', 'bin', 'centrifugo');
export const CENTRIFUGO_API_KEY = 'relaykit-load-bench';

function version(bin: string, args: string[]): string {
  try {
    return execFileSync(bin, args, { encoding: 'utf8', timeout: 20_000 }).trim().split('\n')[0] ?? '?';
  } catch {
    return 'unavailable';
  }
}

export function runtimeVersions(): Record<string, { version: string; engine: string }> {
  const deno = execSafe(BIN.deno, ['--version']);
  return {
    node: { version: `Node ${version(BIN.node, ['--version'])}`, engine: `V8 ${version(BIN.node, ['-p', 'process.versions.v8'])}` },
    bun: {
      version: `Bun ${version(BIN.bun, ['--version'])}`,
      engine: `JavaScriptCore (WebKit ${version(BIN.bun, ['-e', 'console.log(process.versions.webkit ?? "")']).slice(0, 12)})`,
    },
    deno: { version: `Deno ${/deno ([\d.]+)/.exec(deno)?.[1] ?? 'unavailable'}`, engine: `V8 ${/v8 ([\d.]+)/.exec(deno)?.[1] ?? '?'}` },
  };
}

function execSafe(bin: string, args: string[]): string {
  try {
    return execFileSync(bin, args, { encoding: 'utf8', timeout: 20_000 });
  } catch {
    return '';
  }
}

/**
 * How a target is started beyond its defaults (the cluster suite): on a Redis broker, with a key
 * prefix of its own so configurations measured one after another never share keys or channels,
 * and (relaykit) WORKERS processes on one port.
 */
export interface ServerSetup {
  redis?: { url: string; prefix: string };
  workers?: number;
}

export interface TargetDef extends Omit<LoadTarget, 'version' | 'skipped'> {
  command(port: number, setup?: ServerSetup): { bin: string; args: string[]; cwd: string; env?: Record<string, string> };
  /** What of ServerSetup the target honours: relaykit both, the peers Redis (Centrifugo's engine, Socket.IO's adapter). */
  supports: { redis: boolean; workers: boolean };
  /** Why the target cannot run here, or undefined. */
  unavailable(): string | undefined;
  version(): string;
  apiKey?: string;
}

const appEnv = { HOST: '127.0.0.1' };
/**
 * relaykit's rate limits off: every load client comes from 127.0.0.1 and publishes and connects
 * far faster than an app's client may, and the bare runtimes and peers it is compared with have none.
 */
const RATE_LIMITS_OFF = { PUBLISH_RATE: '0', CONNECT_RATE: '0', SUBSCRIBE_RATE: '0' };

/** relaykit's own settings for a ServerSetup (REDIS_URL, REDIS_KEY_PREFIX, WORKERS), rate limits off. */
function relaykitEnv(setup: ServerSetup | undefined): Record<string, string> {
  return {
    ...RATE_LIMITS_OFF,
    ...(setup?.redis ? { REDIS_URL: setup.redis.url, REDIS_KEY_PREFIX: setup.redis.prefix } : {}),
    ...(setup?.workers && setup.workers > 1 ? { WORKERS: String(setup.workers) } : {}),
  };
}

export function targetDefs(builds: readonly { name: string; dir: string }[] = []): TargetDef[] {
  const v = runtimeVersions();
  const app = (runtime: 'node' | 'bun' | 'deno', args: string[], build?: { name: string; dir: string }): TargetDef => ({
    id: build ? `${build.name}-${runtime}` : `relaykit-${runtime}`,
    runtime,
    kind: 'relaykit',
    label: build ? `relaykit ${runtime} (${build.name})` : `relaykit ${runtime}`,
    protocol: 'relaykit',
    transports: ['ws', 'sse'],
    supports: { redis: true, workers: true },
    command: (port, setup) => ({
      bin: BIN[runtime],
      // Deno's supervisor (WORKERS > 1) starts its workers with Deno.Command: it needs --allow-run.
      args: runtime === 'deno' && (setup?.workers ?? 1) > 1 ? [args[0]!, '--allow-run', ...args.slice(1)] : args,
      cwd: join(build ? resolve(build.dir) : ROOT, 'apps', runtime),
      env: { ...appEnv, PORT: String(port), ...relaykitEnv(setup) },
    }),
    unavailable: () => {
      const main = join(build ? resolve(build.dir) : ROOT, 'apps', runtime, 'src/main.ts');
      return existsSync(main) ? undefined : `${main} does not exist`;
    },
    version: () => v[runtime]!.version,
  });
  const bare = (runtime: 'node' | 'bun' | 'deno', args: string[], label: string): TargetDef => ({
    id: `bare-${runtime}`,
    runtime,
    kind: 'bare',
    label,
    protocol: 'relaykit',
    transports: ['ws', 'sse'],
    supports: { redis: false, workers: false },
    command: (port) => ({ bin: BIN[runtime], args, cwd: LOAD_DIR, env: { ...appEnv, PORT: String(port) } }),
    unavailable: () => undefined,
    version: () => v[runtime]!.version,
  });
  const apps = (build?: { name: string; dir: string }) => [
    app('node', ['src/main.ts'], build),
    app('bun', ['src/main.ts'], build),
    app('deno', ['run', '--allow-net', '--allow-env', 'src/main.ts'], build),
  ];
  const [node, bun, deno] = apps();
  return [
    node!,
    bare('node', ['baselines/node.ts'], 'bare node:http + ws'),
    bun!,
    bare('bun', ['baselines/bun.ts'], 'bare Bun.serve'),
    deno!,
    bare('deno', ['run', '--no-config', '--allow-net', '--allow-env', 'baselines/deno.ts'], 'bare Deno.serve'),
    {
      id: 'peer-socketio',
      runtime: 'node',
      kind: 'peer',
      label: 'Socket.IO 4.8 (Node)',
      protocol: 'socket.io',
      transports: ['ws'],
      supports: { redis: true, workers: false },
      command: (port, setup) => ({
        bin: BIN.node,
        args: ['peers/socketio-server.ts'],
        cwd: LOAD_DIR,
        env: { ...appEnv, PORT: String(port), ...(setup?.redis ? { REDIS_URL: setup.redis.url, REDIS_KEY_PREFIX: setup.redis.prefix } : {}) },
      }),
      unavailable: () => undefined,
      version: () => `socket.io 4.8.4 (@socket.io/redis-adapter 8.3.0 with redis 5.12.1 on Redis) on ${v.node!.version}`,
    },
    {
      id: 'peer-centrifugo',
      runtime: 'go',
      kind: 'peer',
      label: `Centrifugo ${CENTRIFUGO_VERSION} (Go)`,
      protocol: 'centrifugo',
      transports: ['ws'],
      apiKey: CENTRIFUGO_API_KEY,
      supports: { redis: true, workers: false },
      command: (port, setup) => ({ bin: CENTRIFUGO_BIN, args: ['--config', centrifugoConfig(port, setup?.redis)], cwd: CACHE_DIR }),
      unavailable: () => ensureCentrifugo(),
      version: () => `centrifugo ${CENTRIFUGO_VERSION} (${version('/usr/local/go/bin/go', ['version']).replace(/^go version /, '')})`,
    },
    ...builds.flatMap((build) => apps(build)),
  ];
}

/** The targets the command line asks for (`--only` runtimes keep the peers; `--targets` ids). */
export function selectTargets(options: { onlyRuntimes?: string[]; onlyTargets?: string[]; builds?: readonly { name: string; dir: string }[] }): TargetDef[] {
  const { onlyRuntimes, onlyTargets } = options;
  return targetDefs(options.builds).filter((d) => (!onlyRuntimes || onlyRuntimes.includes(d.runtime) || d.kind === 'peer') && (!onlyTargets || onlyTargets.includes(d.id)));
}

/** Why `def` cannot run in this run, or undefined (the quick profile never builds Centrifugo). */
export function whyUnavailable(def: TargetDef, profile: { buildCentrifugo: boolean }): string | undefined {
  if (def.id === 'peer-centrifugo' && !profile.buildCentrifugo && !existsSync(CENTRIFUGO_BIN))
    return 'not built yet (the quick profile does not build it; the full profile runs go install)';
  return def.unavailable();
}

function findGo(): string | undefined {
  for (const candidate of [process.env.GO, '/usr/local/go/bin/go']) if (candidate && existsSync(candidate)) return candidate;
  try {
    return execFileSync('sh', ['-c', 'command -v go'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

let centrifugoState: string | undefined | null = null;
/** `go install`s Centrifugo into the cache dir once; undefined when it is ready, else why not. */
export function ensureCentrifugo(): string | undefined {
  if (centrifugoState !== null) return centrifugoState;
  if (existsSync(CENTRIFUGO_BIN)) return (centrifugoState = undefined);
  const go = findGo();
  if (!go) return (centrifugoState = 'Go is not installed, so Centrifugo was not built and not run');
  console.log(`  building Centrifugo ${CENTRIFUGO_VERSION} with go install into ${CACHE_DIR} (first run only)...`);
  try {
    execFileSync(go, ['install', `github.com/centrifugal/centrifugo/v6@${CENTRIFUGO_VERSION}`], {
      env: { ...process.env, GOBIN: join(CACHE_DIR, 'centrifugo', 'bin') },
      stdio: 'inherit',
      timeout: 20 * 60_000,
    });
    return (centrifugoState = existsSync(CENTRIFUGO_BIN) ? undefined : 'go install finished without a centrifugo binary');
  } catch (error) {
    return (centrifugoState = `go install of Centrifugo failed: ${String(error).slice(0, 200)}`);
  }
}

/** Centrifugo v6 config; with `redis`, its Redis engine (broker and presence) at that address and key prefix. */
function centrifugoConfig(port: number, redis?: { url: string; prefix: string }): string {
  const dir = join(CACHE_DIR, 'centrifugo');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `config-${port}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      http_server: { address: '127.0.0.1', port: String(port) },
      log: { level: 'error' },
      client: { insecure: true, allowed_origins: ['*'] },
      http_api: { key: CENTRIFUGO_API_KEY },
      channel: { without_namespace: { allow_subscribe_for_client: true } },
      admin: { enabled: false },
      prometheus: { enabled: false },
      health: { enabled: true },
      ...(redis ? { engine: { type: 'redis', redis: { address: [redis.url], prefix: redis.prefix } } } : {}),
    }),
  );
  return file;
}

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolvePort(port));
    });
    srv.on('error', reject);
  });
}

export interface RunningServer {
  pid: number;
  base: string;
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts a target on a free port with the shared spawnServer and waits (up to 30 s) until it is up:
 * a relaykit app by its listening line (WORKERS > 1: one line from every worker, so that every
 * worker's socket is in the SO_REUSEPORT group before the first client connects), a baseline or a
 * peer (which print their own) by TCP connect.
 */
export async function startServer(def: TargetDef, setup?: ServerSetup): Promise<RunningServer> {
  const port = await freePort();
  const { bin, args: baseArgs, cwd, env } = def.command(port, setup);
  const args = [...baseArgs];
  const profDir = process.env.RELAYKIT_LOAD_CPU_PROF;
  if (profDir) {
    // CPU profile of the server, written when it exits: Node and Bun write .cpuprofile, Deno a V8 log.
    mkdirSync(profDir, { recursive: true });
    const name = `${def.id}-${Date.now()}`;
    if (def.runtime === 'node' || def.runtime === 'bun') args.unshift('--cpu-prof', `--cpu-prof-dir=${profDir}`, `--cpu-prof-name=${name}.cpuprofile`);
    else if (def.runtime === 'deno') args.splice(1, 0, `--v8-flags=--prof,--logfile=${join(profDir, `${name}.v8.log`)},--no-logfile-per-isolate`);
  }
  const server = await spawnServer({
    command: [bin, ...args],
    cwd,
    env,
    port,
    ready: def.kind === 'relaykit' ? 'line' : 'tcp',
    outputTail: 20_000,
    killAfterMs: 4000,
    label: def.id,
  });
  const workers = setup?.workers ?? 1;
  if (def.kind === 'relaykit' && workers > 1) {
    const lines = new RegExp(LISTENING_LINE.source, 'g');
    const deadline = Date.now() + 30_000;
    while ((server.output().match(lines)?.length ?? 0) < workers) {
      if (Date.now() > deadline || server.child.exitCode !== null) {
        await server.stop();
        throw new Error(`${def.id}: fewer than ${workers} workers listening after 30 s:\n${server.output().slice(-1500)}`);
      }
      await sleep(50);
    }
  }
  return {
    pid: server.pid,
    base: `http://127.0.0.1:${port}`,
    output: server.output,
    async stop() {
      await server.stop();
    },
  };
}
