import { type ChildProcess, spawn } from 'node:child_process';
import { LISTENING_LINE } from '@relaykit/contracts';

export { LISTENING_LINE };

/** Config the shared server is started with (a remote server reports its own in `welcome`). */
export const SHARED_ENV: Readonly<Record<string, string>> = {
  HEARTBEAT_MS: '1000',
  HISTORY_SIZE: '20',
  MAX_MESSAGE_BYTES: '16384',
  MAX_TOPICS_PER_CONNECTION: '8',
  SSE_RETRY_MS: '1500',
};

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnedServer {
  url: string;
  name: string;
  child: ChildProcess;
  /** Everything the process printed so far (stdout and stderr). */
  output(): string;
  exited: Promise<ExitStatus>;
  /** Sends a signal to the server process itself. */
  signal(sig: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL to the whole process group if it lingers. */
  stop(): Promise<ExitStatus>;
}

/** Operators that make a command compound (a `$(...)` substitution inside a simple command is fine). */
const SHELL_OPERATORS = /[;&|<>()`\n]/;

/**
 * Starts `cmd` with PORT=0 and `env`, in its own process group. A simple command is exec'd by the
 * shell so that signals reach the server itself and its exit status is the server's own.
 */
export function startProcess(cmd: string, cwd: string, env: Record<string, string>): {
  child: ChildProcess;
  output: () => string;
  exited: Promise<ExitStatus>;
} {
  const script = SHELL_OPERATORS.test(cmd.replace(/\$\([^()]*\)/g, '')) ? cmd : `exec ${cmd}`;
  const child = spawn('/bin/sh', ['-c', script], {
    cwd,
    env: { ...process.env, PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  const exited = new Promise<ExitStatus>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
    child.on('error', () => resolve({ code: -1, signal: null }));
  });
  return { child, output: () => out, exited };
}

export async function spawnServer(
  cmd: string,
  cwd: string,
  env: Record<string, string> = {},
  startTimeoutMs = 30_000,
): Promise<SpawnedServer> {
  const { child, output, exited } = startProcess(cmd, cwd, env);
  const killGroup = (sig: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, sig);
    } catch {
      /* already gone */
    }
  };
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setTimeout(() => {
      killGroup('SIGKILL');
      reject(new Error(`server did not print "relaykit <name> listening on http://HOST:PORT" within ${startTimeoutMs} ms:\n${output()}`));
    }, startTimeoutMs);
    const check = () => {
      const m = LISTENING_LINE.exec(output());
      if (m) {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        resolve(m);
      }
    };
    child.stdout!.on('data', check);
    void exited.then((status) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${JSON.stringify(status)}) before listening:\n${output()}`));
    });
  });
  const url = match[2]!.replace(/\/+$/, '');
  let stopping: Promise<ExitStatus> | undefined;
  return {
    url,
    name: match[1]!,
    child,
    output,
    exited,
    signal: (sig) => {
      try {
        child.kill(sig);
      } catch {
        /* gone */
      }
    },
    stop() {
      stopping ??= (async () => {
        child.kill('SIGTERM');
        const timer = setTimeout(() => killGroup('SIGKILL'), 8000);
        const status = await exited;
        clearTimeout(timer);
        killGroup('SIGKILL');
        return status;
      })();
      return stopping;
    },
  };
}
