/** A Redis on a loopback port and relaykit instances on it, for the cluster and nginx tests. */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { type SpawnedServer, spawnServer } from '@relaykit/conformance/server';
import { makeSelfSignedCert } from './cert.ts';
import { ROOT, type Runtime, commandFor, until } from './servers.ts';

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.end();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

export interface RedisProcess {
  url: string;
  stop(): void;
}

/** redis-server without persistence on a free loopback port (never the default 6379). */
export async function startRedis(): Promise<RedisProcess> {
  const port = await freePort();
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  await until('redis to accept connections', () => canConnect(port));
  return { url: `redis://127.0.0.1:${port}`, stop: () => child.kill('SIGKILL') };
}

/** One app on the Redis broker; `prefix` keeps concurrent test files' keys apart. */
export function startInstance(runtime: Runtime, redisUrl: string, prefix: string, env: Record<string, string> = {}): Promise<SpawnedServer> {
  return spawnServer({
    command: commandFor(runtime),
    cwd: `${ROOT}apps/${runtime}`,
    env: { HOST: '127.0.0.1', REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix, HEARTBEAT_MS: '1000', SHUTDOWN_GRACE_MS: '500', ...env },
    killAfterMs: 3000,
    label: `${runtime} on Redis`,
  });
}

export interface RedisServer extends RedisProcess {
  port: number;
  pid: number;
  /** Settles when redis-server has exited (after stop(), or a crash). */
  exited: Promise<void>;
  /** SIGSTOP / SIGCONT: a Redis that keeps its connections open but answers nothing. */
  signal(sig: NodeJS.Signals): void;
}

/**
 * redis-server without persistence on a given loopback port: where instances already point (a
 * Redis that comes up late), or the port of one just killed (a Redis restarted empty).
 */
export async function startRedisOn(port: number): Promise<RedisServer> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await until('redis to accept connections', async () => (await Promise.race([exited.then(() => 'exited'), canConnect(port)])) !== false);
  if (child.exitCode !== null || child.signalCode !== null) throw new Error(`redis-server on port ${port} exited at start`);
  const signal = (sig: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
  };
  return { url: `redis://127.0.0.1:${port}`, port, pid: child.pid!, exited, signal, stop: () => signal('SIGKILL') };
}

/** Resident set size of a process in KiB (VmRSS of /proc/<pid>/status; Linux). */
export function rssKiB(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]);
}

export interface NginxProcess {
  /** Plain HTTP listener, e.g. http://127.0.0.1:PORT. */
  http: string;
  /** HTTP/2 over TLS (self-signed), e.g. https://127.0.0.1:PORT. */
  https: string;
  /** nginx's error log so far. */
  errors(): string;
  stop(): void;
}

/**
 * deploy/nginx/relaykit.conf as shipped, in front of the given instance ports: only the upstream
 * servers, the listen ports and the certificate (self-signed, in a temporary folder) change.
 */
export async function startNginx(upstreamPorts: readonly number[]): Promise<NginxProcess> {
  // The config names cert.pem and key.pem in nginx's prefix folder, which is the cert's folder.
  const cert = await makeSelfSignedCert('relaykit-nginx-');
  const { dir } = cert;
  mkdirSync(join(dir, 'logs'));
  const [httpPort, httpsPort] = [await freePort(), await freePort()];
  let conf = readFileSync(`${ROOT}deploy/nginx/relaykit.conf`, 'utf8');
  // The shipped servers' parameters (max_fails, fail_timeout) on the instances' ports.
  const params = /server 127\.0\.0\.1:8081([^;]*);/.exec(conf)?.[1] ?? '';
  conf = conf.replace(/server 127\.0\.0\.1:808[1-3][^;]*;\n\s*/g, '');
  conf = conf.replace('keepalive 64;', `${upstreamPorts.map((port) => `server 127.0.0.1:${port}${params};`).join(' ')}\n    keepalive 64;`);
  conf = conf.replace('listen 127.0.0.1:8443 ssl http2;', `listen 127.0.0.1:${httpsPort} ssl http2;`).replace('listen 127.0.0.1:8080;', `listen 127.0.0.1:${httpPort};`);
  // As root, nginx's workers would switch to a user that cannot read the temporary folder.
  writeFileSync(join(dir, 'relaykit.conf'), `user root;\n${conf}`);
  const nginx = spawn('nginx', ['-p', dir, '-c', 'relaykit.conf', '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let errors = '';
  nginx.stderr!.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  await until(`nginx to listen (${errors})`, async () => (await canConnect(httpPort)) && canConnect(httpsPort));
  return {
    http: `http://127.0.0.1:${httpPort}`,
    https: `https://127.0.0.1:${httpsPort}`,
    errors: () => (existsSync(join(dir, 'logs/error.log')) ? readFileSync(join(dir, 'logs/error.log'), 'utf8') : ''),
    stop() {
      nginx.kill('SIGTERM');
      cert.remove();
    },
  };
}
