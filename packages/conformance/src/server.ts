/**
 * The one way to start a relaykit server (or any server) from a test, a runner or a script:
 * conformance, e2e, the load runner, the apps' smoke tests and scripts/start-all.mjs all call
 * `spawnServer`. Exported as `@relaykit/conformance/server`; plain TypeScript with erasable syntax
 * only, so Node (type stripping), Bun and Deno run it as it is.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { LISTENING_LINE } from '@relaykit/contracts';

export { LISTENING_LINE };

/** Config the shared conformance server is started with (a remote server reports its own in `welcome`). */
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

export interface ServerOptions {
  /**
   * A shell command line, run by `/bin/sh -c` (a simple command is `exec`'d, so signals reach the
   * server and its exit status is the server's own), or an argv array spawned without a shell.
   */
  command: string | readonly string[];
  /** Working directory (default: this process's). */
  cwd?: string;
  /** Added to this process's environment (after PORT); `undefined` removes a variable. */
  env?: Record<string, string | undefined>;
  /** The PORT the server is given: 0 (default) lets it choose, and its listening line says which. */
  port?: number;
  /**
   * How to know the server is up: `'line'` (default) waits for LISTENING_LINE on stdout;
   * `'tcp'` waits until `tcpHost:port` accepts a connection (for servers that print no such line;
   * needs a pinned `port`).
   */
  ready?: 'line' | 'tcp';
  /** Host probed by `ready: 'tcp'` (default 127.0.0.1). */
  tcpHost?: string;
  /** How long to wait for the server to be up (default 30 s); then its process group is killed. */
  startTimeoutMs?: number;
  /** Keep only the last this many characters of output (default: everything). */
  outputTail?: number;
  /** After SIGTERM, how long `stop()` waits before SIGKILL to the process group (default 8 s). */
  killAfterMs?: number;
  /** Called with every chunk of output as it arrives (stdout and stderr), e.g. to echo it. */
  onOutput?: (chunk: string, stream: 'stdout' | 'stderr') => void;
  /** A name for error messages (default: the command). */
  label?: string;
}

export interface StartedProcess {
  child: ChildProcess;
  /** Everything the process printed so far (stdout and stderr; the tail when `outputTail` is set). */
  output(): string;
  exited: Promise<ExitStatus>;
}

export interface SpawnedServer extends StartedProcess {
  /** Base URL, without a trailing slash. */
  url: string;
  port: number;
  /** The runtime name from the listening line (`node`, `bun`, `deno`); '' with `ready: 'tcp'`. */
  name: string;
  pid: number;
  /** Sends a signal to the server process itself. */
  signal(sig: NodeJS.Signals): void;
  /** SIGTERM to the process group, then SIGKILL to it if it lingers; resolves with the exit status. */
  stop(): Promise<ExitStatus>;
}

/** Operators that make a command compound (a `$(...)` substitution inside a simple command is fine). */
const SHELL_OPERATORS = /[;&|<>()`\n]/;

/**
 * Starts `command` with PORT and `env`, in its own process group, without waiting for it to listen
 * (a case that expects the server to refuse its config uses this directly).
 */
export function startProcess(options: ServerOptions): StartedProcess {
  const { command, port = 0, outputTail, onOutput } = options;
  const env: Record<string, string | undefined> = { ...process.env, PORT: String(port), ...options.env };
  for (const key of Object.keys(env)) if (env[key] === undefined) delete env[key];
  const [bin, args] =
    typeof command === 'string'
      ? ['/bin/sh', ['-c', SHELL_OPERATORS.test(command.replace(/\$\([^()]*\)/g, '')) ? command : `exec ${command}`]]
      : [command[0]!, command.slice(1)];
  const child = spawn(bin, args, {
    cwd: options.cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group, so stop() reaches anything it started
  });
  let out = '';
  const append = (stream: 'stdout' | 'stderr') => (chunk: string) => {
    out += chunk;
    if (outputTail !== undefined && out.length > outputTail * 2) out = out.slice(-outputTail);
    onOutput?.(chunk, stream);
  };
  child.stdout!.setEncoding('utf8').on('data', append('stdout'));
  child.stderr!.setEncoding('utf8').on('data', append('stderr'));
  const exited = new Promise<ExitStatus>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
    child.on('error', () => resolve({ code: -1, signal: null }));
  });
  const output = () => (outputTail === undefined ? out : out.slice(-outputTail));
  return { child, output, exited };
}

/**
 * Starts a server and waits until it is up: by default until it prints LISTENING_LINE
 * (`relaykit <name> listening on http://HOST:PORT`, alone or as the `msg` of a JSON log line).
 */
export async function spawnServer(options: ServerOptions): Promise<SpawnedServer> {
  const { ready = 'line', startTimeoutMs = 30_000, killAfterMs = 8000 } = options;
  const label = options.label ?? (typeof options.command === 'string' ? options.command : options.command.join(' '));
  if (ready === 'tcp' && !options.port) throw new Error(`spawnServer(${label}): ready: 'tcp' needs a pinned port`);
  const started = startProcess(options);
  const { child, output, exited } = started;
  const killGroup = (sig: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, sig);
    } catch {
      /* already gone */
    }
  };
  let failed = false;
  const up = new Promise<{ name: string; url: string }>((resolve, reject) => {
    const fail = (error: Error) => {
      failed = true;
      clearTimeout(timer);
      reject(error);
    };
    const timer = setTimeout(() => {
      killGroup('SIGKILL');
      const waitedFor = ready === 'line' ? 'print "relaykit <name> listening on http://HOST:PORT"' : `accept connections on port ${options.port}`;
      fail(new Error(`${label} did not ${waitedFor} within ${startTimeoutMs} ms:\n${output()}`));
    }, startTimeoutMs);
    void exited.then((status) => fail(new Error(`${label} exited (${JSON.stringify(status)}) before listening:\n${output()}`)));
    if (ready === 'line') {
      const check = () => {
        const m = LISTENING_LINE.exec(output());
        if (!m || failed) return;
        clearTimeout(timer);
        child.stdout!.off('data', check);
        resolve({ name: m[1]!, url: m[2]!.replace(/\/+$/, '') });
      };
      child.stdout!.on('data', check);
    } else {
      const host = options.tcpHost ?? '127.0.0.1';
      const probe = () => {
        if (failed) return;
        const socket = connect(options.port!, host);
        socket.once('connect', () => {
          socket.destroy();
          clearTimeout(timer);
          resolve({ name: '', url: `http://${host}:${options.port}` });
        });
        socket.once('error', () => setTimeout(probe, 100));
      };
      probe();
    }
  });
  const { name, url } = await up;
  let stopping: Promise<ExitStatus> | undefined;
  return {
    ...started,
    url,
    port: Number(new URL(url).port),
    name,
    pid: child.pid!,
    signal: (sig) => {
      try {
        child.kill(sig);
      } catch {
        /* gone */
      }
    },
    stop() {
      stopping ??= (async () => {
        // The whole group: a launcher that does not forward signals (npm's deno wrapper) and the server behind it.
        if (child.exitCode === null && child.signalCode === null) killGroup('SIGTERM');
        const timer = setTimeout(() => killGroup('SIGKILL'), killAfterMs);
        const status = await exited;
        clearTimeout(timer);
        killGroup('SIGKILL'); // anything left in the group
        return status;
      })();
      return stopping;
    },
  };
}
