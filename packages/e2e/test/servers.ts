import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const RUNTIMES = ['node', 'bun', 'deno'] as const;
export type Runtime = (typeof RUNTIMES)[number];

/**
 * The command each app is started with, from its own folder (see the apps' package.json), with the
 * root's pinned runtimes. The binaries themselves, not npm's wrapper scripts: a signal sent to a
 * wrapper would not reach the server behind it.
 */
export function commandFor(runtime: Runtime): string[] {
  switch (runtime) {
    case 'node':
      return [`${ROOT}node_modules/node/bin/node`, 'src/main.ts'];
    case 'bun':
      return [`${ROOT}node_modules/bun/bin/bun.exe`, 'src/main.ts'];
    case 'deno':
      return [`${ROOT}node_modules/deno/deno`, 'run', '--allow-net', '--allow-env', 'src/main.ts'];
  }
}

export interface RunningServer {
  runtime: Runtime;
  url: string;
  port: number;
  output(): string;
  stop(): Promise<void>;
}

/** Starts one app with PORT=0 and waits for its `relaykit <runtime> listening on URL` line. */
export async function startServer(runtime: Runtime, env: Record<string, string> = {}): Promise<RunningServer> {
  const cwd = `${ROOT}apps/${runtime}`;
  if (!existsSync(`${cwd}/src/main.ts`)) throw new Error(`apps/${runtime}/src/main.ts does not exist`);
  const [command, ...args] = commandFor(runtime);
  const child: ChildProcess = spawn(command!, args, {
    cwd,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', HEARTBEAT_MS: '1000', SHUTDOWN_GRACE_MS: '500', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group, so stop() reaches anything it started
  });
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, name);
    } catch {
      // already gone
    }
  };
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${runtime} did not start in 30 s:\n${output}`)), 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = new RegExp(`relaykit ${runtime} listening on (http://[^\\s"]+)`).exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!.replace(/\/$/, ''));
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${runtime} exited with ${code} before listening:\n${output}`));
    });
  });
  return {
    runtime,
    url,
    port: Number(new URL(url).port),
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      signal('SIGTERM');
      const killer = setTimeout(() => signal('SIGKILL'), 3_000);
      await exited;
      clearTimeout(killer);
      signal('SIGKILL'); // anything left in the group
    },
  };
}

/** Publishes over HTTP straight to a server; returns the id. */
export async function publish(url: string, topic: string, type: string, data: unknown): Promise<string> {
  const response = await fetch(`${url}/v1/topics/${topic}/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ type, data }),
  });
  if (response.status !== 201) throw new Error(`publish answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { id: string }).id;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function until<T>(what: string, check: () => T | Promise<T>, timeoutMs = 15_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await check();
    if (last) return last as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
