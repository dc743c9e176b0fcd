import type { TestProject } from 'vitest/node';
import { type RedisServer, startRedis } from './redis.ts';
import { SHARED_ENV, type SpawnedServer, spawnServer } from './server.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Base URL of the server most cases run against. */
    baseUrl: string;
    /** The command that starts a server, or '' when running against a URL. */
    cmd: string;
    /** Working directory for `cmd`. */
    cwd: string;
    /** Config the shared server was started with ('{}' for a remote server). */
    sharedEnv: string;
    /** The Redis every spawned server uses (--redis), or ''. */
    redisUrl: string;
  }
}

let shared: SpawnedServer | undefined;
let redis: RedisServer | undefined;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const cmd = process.env.CONFORMANCE_CMD ?? '';
  const cwd = process.env.CONFORMANCE_CWD ?? process.cwd();
  let baseUrl = (process.env.CONFORMANCE_URL ?? '').replace(/\/+$/, '');
  const env: Record<string, string> = { ...SHARED_ENV };
  if (process.env.CONFORMANCE_REDIS && cmd) {
    redis = await startRedis();
    Object.assign(env, { REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'cf-shared:' });
    console.log(`conformance: Redis mode, redis-server at ${redis.url}`);
  }
  if (cmd) {
    shared = await spawnServer({ command: cmd, cwd, env });
    baseUrl = shared.url;
    console.log(`conformance: started "${cmd}" (${shared.name}) at ${baseUrl}`);
  } else if (!baseUrl) {
    throw new Error('relaykit-conformance needs --cmd "<start command>" or --url http://host:port (or CONFORMANCE_URL)');
  } else {
    console.log(`conformance: running against ${baseUrl}; cases that must control the server process are skipped (they need --cmd)`);
  }
  project.provide('baseUrl', baseUrl);
  project.provide('cmd', cmd);
  project.provide('cwd', cwd);
  project.provide('sharedEnv', JSON.stringify(cmd ? env : {}));
  project.provide('redisUrl', redis?.url ?? '');
  return async () => {
    if (shared) {
      const status = await shared.stop();
      if (status.code !== 0) console.log(`conformance: shared server exited with ${JSON.stringify(status)}`);
      const errors = shared.output().split('\n').filter((line) => /error|exception|unhandled/i.test(line));
      if (errors.length) console.log(`conformance: the shared server logged errors:\n${errors.slice(0, 20).join('\n')}`);
    }
    redis?.stop();
  };
}
