import type { TestProject } from 'vitest/node';
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
  }
}

let shared: SpawnedServer | undefined;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const cmd = process.env.CONFORMANCE_CMD ?? '';
  const cwd = process.env.CONFORMANCE_CWD ?? process.cwd();
  let baseUrl = (process.env.CONFORMANCE_URL ?? '').replace(/\/+$/, '');
  if (cmd) {
    shared = await spawnServer({ command: cmd, cwd, env: { ...SHARED_ENV } });
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
  project.provide('sharedEnv', JSON.stringify(cmd ? SHARED_ENV : {}));
  return async () => {
    if (shared) {
      const status = await shared.stop();
      if (status.code !== 0) console.log(`conformance: shared server exited with ${JSON.stringify(status)}`);
      const errors = shared.output().split('\n').filter((line) => /error|exception|unhandled/i.test(line));
      if (errors.length) console.log(`conformance: the shared server logged errors:\n${errors.slice(0, 20).join('\n')}`);
    }
  };
}
