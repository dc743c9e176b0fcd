// Runs the Node, Bun and Deno servers side by side (each also serves the demo page at /).
// Ports: NODE_PORT 8081, BUN_PORT 8082, DENO_PORT 8083; every other variable (HEARTBEAT_MS, ...)
// is passed through. Ctrl-C stops all three gracefully.
// Each app is started with its own `start` script by the repository's one spawn function
// (@relaykit/conformance/server, TypeScript that Node 24 runs as it is), in its own process group,
// and stopped as a group: runtime launchers from npm (deno's is a Node script around the binary) do
// not forward signals themselves.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { spawnServer } from '@relaykit/conformance/server';

const root = new URL('../', import.meta.url);
const apps = [
  { name: 'node', port: process.env.NODE_PORT ?? '8081' },
  { name: 'bun', port: process.env.BUN_PORT ?? '8082' },
  { name: 'deno', port: process.env.DENO_PORT ?? '8083' },
];

/** Prints a server's output line by line behind its name, with the demo's addresses after the listening line. */
function printer(prefix) {
  const rest = { stdout: '', stderr: '' };
  return (chunk, stream) => {
    const lines = (rest[stream] + chunk).split('\n');
    rest[stream] = lines.pop() ?? '';
    for (const line of lines) {
      const url = /listening on (http:\/\/[^\s"]+)/.exec(line)?.[1];
      console.log(`${prefix} ${line}${url ? `\n${prefix} demo: ${url}/   SSE: ${url}/v1/events?topic=demo   WS: ${url.replace('http', 'ws')}/v1/ws` : ''}`);
    }
  };
}

let stopping = false;
let exitCode = 0;
const servers = [];
function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  exitCode = code;
  Promise.all(servers.map((server) => server.stop())).then(() => process.exit(exitCode));
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));
process.on('exit', () => {
  for (const server of servers) {
    try {
      process.kill(-server.pid, 'SIGKILL');
    } catch {}
  }
});

await Promise.all(
  apps.map(async ({ name, port }) => {
    const dir = new URL(`apps/${name}/`, root);
    const { scripts } = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8'));
    const prefix = `[${name}]`.padEnd(7);
    try {
      const server = await spawnServer({ command: scripts.start, cwd: fileURLToPath(dir), port: Number(port), onOutput: printer(prefix), label: name });
      servers.push(server);
      void server.exited.then((status) => {
        console.log(`${prefix} exited (${status.signal ?? status.code})`);
        if (!stopping) stop(status.code === 0 ? 1 : (status.code ?? 1));
      });
    } catch (error) {
      console.log(`${prefix} ${String(error.message ?? error).split('\n')[0]}`);
      stop(1);
    }
  }),
);
