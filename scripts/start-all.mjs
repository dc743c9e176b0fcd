// Runs the Node, Bun and Deno servers side by side (each also serves the demo page at /).
// Ports: NODE_PORT 8081, BUN_PORT 8082, DENO_PORT 8083; every other variable (HEARTBEAT_MS, ...)
// is passed through. Ctrl-C stops all three gracefully.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

const root = new URL('../', import.meta.url);
const apps = [
  { name: 'node', port: process.env.NODE_PORT ?? '8081' },
  { name: 'bun', port: process.env.BUN_PORT ?? '8082' },
  { name: 'deno', port: process.env.DENO_PORT ?? '8083' },
];

const children = apps.map(({ name, port }) => {
  const dir = new URL(`apps/${name}/`, root);
  const { scripts } = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8'));
  // Each server runs in its own process group and is signalled as a group: runtime launchers from
  // npm (deno's is a Node script around the binary) do not forward signals themselves.
  const child = spawn('/bin/sh', ['-c', `exec ${scripts.start}`], {
    cwd: dir,
    detached: true,
    env: { ...process.env, PORT: port },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const prefix = `[${name}]`.padEnd(7);
  for (const stream of [child.stdout, child.stderr]) {
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        const url = /listening on (http:\/\/[^\s"]+)/.exec(line)?.[1];
        console.log(`${prefix} ${line}${url ? `\n${prefix} demo: ${url}/   SSE: ${url}/v1/events?topic=demo   WS: ${url.replace('http', 'ws')}/v1/ws` : ''}`);
      }
    });
  }
  child.on('exit', (code, signal) => {
    console.log(`${prefix} exited (${signal ?? code})`);
    if (!stopping) stop(code === 0 ? 1 : (code ?? 1));
  });
  return child;
});

let stopping = false;
let exitCode = 0;
function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  exitCode = code;
  for (const child of children) signal(child, 'SIGTERM');
}
function signal(child, name) {
  if (child.exitCode !== null) return;
  try {
    process.kill(-child.pid, name);
  } catch {}
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));
process.on('exit', () => {
  for (const child of children) signal(child, 'SIGKILL');
});
const waitAll = () =>
  Promise.all(children.map((child) => (child.exitCode !== null ? 0 : new Promise((r) => child.on('exit', r)))));
waitAll().then(() => process.exit(exitCode));
