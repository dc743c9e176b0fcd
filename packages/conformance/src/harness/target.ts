/** The server the cases run against: set once per test file by `configure` (see ../vitest.ts). */
import { randomBytes } from 'node:crypto';
import { type SpawnedServer, spawnServer } from '../server.ts';

export interface Target {
  /** Base URL of the server most cases run against. */
  baseUrl: string;
  /** The command that starts a server, or '' when running against a URL. */
  cmd: string;
  /** Working directory for `cmd`. */
  cwd: string;
  /** Config the shared server was started with, as JSON ('{}' for a remote server). */
  sharedEnv: string;
  /** The Redis every spawned server uses in Redis mode (--redis), or ''. */
  redisUrl: string;
}

let current: Target | undefined;

/** Points the harness at a server; `cases(options)` calls it when given options. */
export function configure(target: Partial<Target> & { baseUrl: string }): void {
  current = { cmd: '', cwd: process.cwd(), sharedEnv: '{}', redisUrl: '', ...target, baseUrl: target.baseUrl.replace(/\/+$/, '') };
}

export function target(): Target {
  if (!current) throw new Error('the conformance harness is not configured: call cases({ baseUrl, ... }) or configure() first');
  return current;
}

/** What a case needs of its runner: vitest's test context fits. */
export interface CaseContext {
  skip(note?: string): never;
}

export const baseUrl = (): string => target().baseUrl;
export const wsUrl = (base = baseUrl()): string => `${base.replace(/^http/, 'ws')}/v1/ws`;
export const hasCmd = (): boolean => target().cmd !== '';
/** Which broker the spawned servers use: a case states each mode's rule where they differ (PROTOCOL.md §1). */
export const brokerMode = (): 'memory' | 'redis' => (target().redisUrl ? 'redis' : 'memory');

let topicCounter = 0;
/** A topic no other case (nor an earlier run against the same server) has used. */
export function uniqueTopic(label = 't'): string {
  return `cf.${label}.${randomBytes(4).toString('hex')}.${++topicCounter}`;
}

/** Skips a case that must control the server process when the suite runs against a URL. */
export function needsCmd(ctx: CaseContext): void {
  if (!hasCmd()) ctx.skip('needs --cmd: this case must start and stop its own server process');
}

const spawned = new Set<SpawnedServer>();
/** A private server for one case, started from the --cmd command with PORT=0 and `env`. */
export async function ownServer(env: Record<string, string> = {}): Promise<SpawnedServer> {
  // In Redis mode each private server gets keys of its own (a case sharing one between two servers says so).
  const redis = target().redisUrl ? { REDIS_URL: target().redisUrl, REDIS_KEY_PREFIX: `cf-${randomBytes(4).toString('hex')}:` } : {};
  // A short grace keeps the suite quick when a case stops its server with idle keep-alive sockets.
  const server = await spawnServer({ command: target().cmd, cwd: target().cwd, env: { SHUTDOWN_GRACE_MS: '1500', ...redis, ...env } });
  spawned.add(server);
  void server.exited.then(() => spawned.delete(server));
  return server;
}
export async function stopOwnServers(): Promise<void> {
  await Promise.all([...spawned].map((s) => s.stop()));
}
