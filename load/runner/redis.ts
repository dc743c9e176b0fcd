/**
 * The Redis of the cluster suite: redis-server on a free loopback port (never the default 6379),
 * no persistence (no RDB snapshots, no AOF), started by the runner with the shared spawnServer and
 * gone with the run. Its own CPU and RSS are read from /proc/PID like a server's, the CPU from
 * the threads' schedstat (ns) rather than stat's 10 ms ticks.
 */
import { execFileSync } from 'node:child_process';
import { spawnServer } from '@relaykit/conformance/server';
import { rssKb, schedCpuMs } from './proc.ts';
import { freePort } from './targets.ts';

export interface RedisUnderTest {
  url: string;
  pid: number;
  /** e.g. `Redis 7.0.15`. */
  version: string;
  /** CPU time of redis-server (all its threads) so far, ms, to the ns (a paced phase costs Redis a few ms). */
  cpuMs(): number;
  rssKb(): number;
  stop(): Promise<void>;
}

export async function startRedis(): Promise<RedisUnderTest> {
  let version: string;
  try {
    version = `Redis ${/v=(\S+)/.exec(execFileSync('redis-server', ['--version'], { encoding: 'utf8', timeout: 10_000 }))?.[1] ?? '?'}`;
  } catch (error) {
    throw new Error(`the cluster suite needs redis-server (Debian: apt-get install redis-server): ${String((error as Error).message ?? error).slice(0, 200)}`);
  }
  const port = await freePort();
  const server = await spawnServer({
    command: ['redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'],
    port,
    ready: 'tcp',
    startTimeoutMs: 10_000,
    outputTail: 5000,
    killAfterMs: 2000,
    label: 'redis-server',
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    pid: server.pid,
    version,
    cpuMs: () => schedCpuMs(server.pid),
    rssKb: () => {
      try {
        return rssKb(server.pid);
      } catch {
        return 0;
      }
    },
    async stop() {
      await server.stop();
    },
  };
}
