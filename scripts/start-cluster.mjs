// `pnpm start:cluster`: Redis, the Node, Bun and Deno servers on it (start-all.mjs, 8081-8083) and
// nginx in front (deploy/nginx/relaykit.conf: http://127.0.0.1:8080, https://127.0.0.1:8443 with
// HTTP/2 and a self-signed certificate made on first run). Needs redis-server, nginx and openssl
// (Debian: apt-get install redis-server nginx openssl). Ctrl-C stops everything.
// Redis listens on REDIS_PORT (default 16379, not the 6379 a system Redis may hold) with no
// persistence: a restart of this cluster is a new broker lifetime (PROTOCOL.md §1).
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const run = `${root}.cluster/`;
const redisPort = process.env.REDIS_PORT ?? '16379';
mkdirSync(`${run}logs`, { recursive: true });

const children = [];
function start(name, command, args, env = {}) {
  const child = spawn(command, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit'] });
  child.on('error', (error) => {
    console.error(`[${name}] cannot start ${command}: ${error.message}`);
    stop(1);
  });
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.log(`[${name}] exited (${signal ?? code})`);
      stop(1);
    }
  });
  children.push(child);
  return child;
}

let stopping = false;
function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  for (const child of children) child.kill('SIGTERM');
  setTimeout(() => process.exit(code), 3000).unref();
  Promise.all(children.map((child) => new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve))))).then(() => process.exit(code));
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

if (!existsSync(`${run}cert.pem`)) {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '365', '-subj', '/CN=127.0.0.1', '-keyout', `${run}key.pem`, '-out', `${run}cert.pem`], { stdio: 'ignore' });
}
// As root, nginx's workers would switch to a user that cannot read this folder.
const conf = readFileSync(`${root}deploy/nginx/relaykit.conf`, 'utf8');
writeFileSync(`${run}relaykit.conf`, `${process.getuid?.() === 0 ? 'user root;\n' : ''}${conf}`);

start('redis', 'redis-server', ['--port', redisPort, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--logfile', `${run}logs/redis.log`]);
// nginx is the apps' only peer: trusting it makes per-IP rate limits count each client behind it (X-Forwarded-For).
start('apps', process.execPath, [`${root}scripts/start-all.mjs`], { REDIS_URL: `redis://127.0.0.1:${redisPort}`, TRUSTED_PROXIES: '127.0.0.1' });
start('nginx', 'nginx', ['-p', run, '-c', 'relaykit.conf', '-g', 'daemon off;']);
console.log('[nginx]  http://127.0.0.1:8080/  https://127.0.0.1:8443/ (HTTP/2; self-signed) -> node :8081, bun :8082, deno :8083 on one Redis');
