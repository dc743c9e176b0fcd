/** A Redis on a loopback port and relaykit instances on it, for the cluster and nginx tests. */
import { type ChildProcess, spawn } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { type SpawnedServer, spawnServer } from '@relaykit/conformance/server';
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
