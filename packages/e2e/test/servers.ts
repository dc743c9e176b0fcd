import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { spawnServer } from '@relaykit/conformance/server';

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

/** Starts one app with PORT=0 (the shared spawnServer) and waits for its `relaykit <runtime> listening on URL` line. */
export async function startServer(runtime: Runtime, env: Record<string, string> = {}): Promise<RunningServer> {
  const cwd = `${ROOT}apps/${runtime}`;
  if (!existsSync(`${cwd}/src/main.ts`)) throw new Error(`apps/${runtime}/src/main.ts does not exist`);
  const server = await spawnServer({
    command: commandFor(runtime),
    cwd,
    env: { HOST: '127.0.0.1', HEARTBEAT_MS: '1000', SHUTDOWN_GRACE_MS: '500', ...env },
    killAfterMs: 3_000,
    label: runtime,
  });
  if (server.name !== runtime) {
    await server.stop();
    throw new Error(`apps/${runtime} says it is ${server.name}:\n${server.output()}`);
  }
  return {
    runtime,
    url: server.url,
    port: server.port,
    output: server.output,
    async stop() {
      await server.stop();
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

/** `what` may be a function, to say on a timeout what was last seen. */
export async function until<T>(what: string | (() => string), check: () => T | Promise<T>, timeoutMs = 15_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await check();
    if (last) return last as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await sleep(50);
  }
}
