/** The same client package run by Node, Bun and Deno, against each runtime's server. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ROOT, RUNTIMES, type Runtime, type RunningServer, startServer } from './servers.ts';

const run = promisify(execFile);
const SMOKE = fileURLToPath(new URL('../fixtures/client-smoke.ts', import.meta.url));
const CLIENT_COMMANDS: Record<Runtime, string[]> = {
  node: [`${ROOT}node_modules/node/bin/node`, SMOKE],
  bun: [`${ROOT}node_modules/bun/bin/bun.exe`, SMOKE],
  deno: [`${ROOT}node_modules/deno/deno`, 'run', '--allow-net', SMOKE],
};

describe.each(RUNTIMES)('client on every runtime against %s', (serverRuntime) => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(serverRuntime);
  });
  afterAll(async () => {
    await server?.stop();
  });

  test.each(RUNTIMES)('the client run by %s: SSE, WebSocket and long polling', async (clientRuntime) => {
    const [command, ...args] = CLIENT_COMMANDS[clientRuntime];
    const { stdout } = await run(command!, [...args, server.url], { cwd: fileURLToPath(new URL('..', import.meta.url)), timeout: 45_000 });
    expect(stdout).toMatch(/^sse \S+\nws \S+\npoll \S+\nok\n$/);
  });
});
