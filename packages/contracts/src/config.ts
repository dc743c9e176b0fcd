import { z } from 'zod';

const int = (min: number, max: number, fallback: number) =>
  z.coerce.number().int().min(min).max(max).default(fallback);

/**
 * Server configuration, read from the environment with the same names and defaults on every
 * runtime. Unknown variables are ignored (the environment holds much else).
 */
export const LogLevel = z.enum(['error', 'warn', 'info', 'debug']);
export type LogLevel = z.infer<typeof LogLevel>;

export const ConfigEnv = z.object({
  PORT: int(0, 65535, 8080).describe('TCP port; 0 picks a free one'),
  HOST: z.string().min(1).default('127.0.0.1').describe('Interface to bind; 0.0.0.0 for all'),
  HEARTBEAT_MS: int(100, 3_600_000, 15_000).describe('SSE keepalive and WebSocket ping interval'),
  HISTORY_SIZE: int(0, 1_000_000, 1000).describe('Events kept per topic for replay'),
  MAX_MESSAGE_BYTES: int(256, 16 * 1024 * 1024, 65_536).describe('Largest WebSocket frame or HTTP body accepted'),
  MAX_TOPICS_PER_CONNECTION: int(1, 10_000, 100).describe('Topics one connection may hold'),
  MAX_CONNECTIONS: int(0, 10_000_000, 0).describe('Open SSE + WebSocket connections per process; 0 = unlimited'),
  MAX_BUFFERED_BYTES: int(1024, 1024 * 1024 * 1024, 4 * 1024 * 1024).describe(
    'Unsent bytes one connection may queue before it is closed as a slow consumer',
  ),
  SSE_RETRY_MS: int(0, 600_000, 2000).describe('The `retry:` hint sent to EventSource clients'),
  SHUTDOWN_GRACE_MS: int(0, 600_000, 5000).describe('How long the drain of a shutdown may last before the process exits anyway'),
  MAX_JSON_DEPTH: int(1, 512, 64).describe(
    'Deepest nesting of arrays and objects in published data; checked on the raw text before any recursive work',
  ),
  MAX_HISTORIES: int(1, 10_000_000, 10_000).describe('Topic histories one process keeps'),
  HISTORY_MAX_BYTES: int(65_536, 64 * 1024 ** 3, 64 * 1024 * 1024).describe(
    'Envelope bytes all topic histories of one process hold together',
  ),
  HISTORY_TTL_MS: int(0, 30 * 86_400_000, 3_600_000).describe(
    'A history with no local subscriber and no publish for this long is dropped; 0 = never by age',
  ),
  IDEMPOTENCY_TTL_MS: int(1000, 86_400_000, 300_000).describe('How long a publish idempotency key is remembered'),
  IDEMPOTENCY_MAX_KEYS: int(0, 10_000_000, 100_000).describe('Idempotency keys one process remembers at most; 0 = none'),
  REQUEST_TIMEOUT_MS: int(1000, 600_000, 30_000).describe('How long a request head and body may take to arrive'),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\/\S+$/, 'must be a redis:// or rediss:// URL')
    .optional()
    .describe('When set, the broker is Redis: instances sharing it act as one broker'),
  REDIS_KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be 1-64 characters of A-Z a-z 0-9 _ . : -')
    .default('relaykit:')
    .describe('Prefix of every Redis key and channel; deployments sharing one Redis must differ'),
  WORKERS: int(1, 64, 1).describe('Processes serving one port (SO_REUSEPORT); more than 1 needs REDIS_URL'),
  LOG_LEVEL: LogLevel.default('info').describe('Least severe log line written: error, warn, info or debug'),
  AUTH_JWT_SECRET: z
    .string()
    .min(32, 'must be at least 32 characters (HS256 key)')
    .optional()
    .describe('When set, every connection and publish needs an HS256 JWT signed with it'),
  AUTH_JWT_ISSUER: z.string().min(1).optional().describe('Required `iss` of tokens'),
  AUTH_JWT_AUDIENCE: z.string().min(1).optional().describe('Required `aud` of tokens'),
});

export const Config = ConfigEnv.superRefine((env, ctx) => {
  // Workers share nothing but the broker: without Redis each would be an island behind one port.
  if (env.WORKERS > 1 && !env.REDIS_URL) {
    ctx.addIssue({ code: 'custom', path: ['WORKERS'], message: 'more than 1 worker needs REDIS_URL: workers share one broker through Redis' });
  }
}).transform((env) => ({
  port: env.PORT,
  host: env.HOST,
  heartbeatMs: env.HEARTBEAT_MS,
  historySize: env.HISTORY_SIZE,
  maxMessageBytes: env.MAX_MESSAGE_BYTES,
  maxTopicsPerConnection: env.MAX_TOPICS_PER_CONNECTION,
  maxConnections: env.MAX_CONNECTIONS,
  maxBufferedBytes: env.MAX_BUFFERED_BYTES,
  sseRetryMs: env.SSE_RETRY_MS,
  shutdownGraceMs: env.SHUTDOWN_GRACE_MS,
  maxJsonDepth: env.MAX_JSON_DEPTH,
  maxHistories: env.MAX_HISTORIES,
  historyMaxBytes: env.HISTORY_MAX_BYTES,
  historyTtlMs: env.HISTORY_TTL_MS,
  idempotencyTtlMs: env.IDEMPOTENCY_TTL_MS,
  idempotencyMaxKeys: env.IDEMPOTENCY_MAX_KEYS,
  requestTimeoutMs: env.REQUEST_TIMEOUT_MS,
  logLevel: env.LOG_LEVEL,
  workers: env.WORKERS,
  redis: env.REDIS_URL ? { url: env.REDIS_URL, keyPrefix: env.REDIS_KEY_PREFIX } : undefined,
  auth: env.AUTH_JWT_SECRET
    ? { jwtSecret: env.AUTH_JWT_SECRET, issuer: env.AUTH_JWT_ISSUER, audience: env.AUTH_JWT_AUDIENCE }
    : undefined,
}));
export type Config = z.output<typeof Config>;
export type ConfigEnvInput = z.input<typeof ConfigEnv>;

export type ConfigResult = { ok: true; config: Config } | { ok: false; message: string };

/** Parses an environment; on failure the message names every bad variable, one per line. */
export function parseConfig(env: Record<string, string | undefined>): ConfigResult {
  const known: Record<string, string> = {};
  for (const key of Object.keys(ConfigEnv.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') known[key] = value;
  }
  const result = Config.safeParse(known);
  if (result.success) return { ok: true, config: result.data };
  const lines = result.error.issues.map((issue) => {
    const name = String(issue.path[0] ?? 'config');
    // Secrets (a Redis URL may hold a password) are named, never echoed: this message goes to logs.
    const value = name.includes('SECRET') || name === 'REDIS_URL' ? '<redacted>' : JSON.stringify(known[name] ?? '');
    return `  ${name}=${value}: ${issue.message}`;
  });
  return { ok: false, message: `Invalid relaykit configuration:\n${lines.join('\n')}` };
}

/** Names relaykit reads besides the config (the worker marker), so they are never taken for typos. */
const OTHER_NAMES = ['RELAYKIT_WORKER'];

/**
 * Edit distance with adjacent transpositions (optimal string alignment): a swapped pair
 * (`HISTROY`) costs 1, as a typist makes it. Hand-written: twenty lines, and the npm
 * distance packages either lack transpositions or are not worth a dependency of contracts.
 */
function typoDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 0; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * Environment variables that are not relaykit's but look like a misspelling of one (`HISTROY_SIZE`,
 * `REDIS_ULR`, `log_level`), each with the name it most likely meant. Only near names count: one
 * edit for names of up to five characters (so `HOME` is not taken for `HOST`), two for longer ones.
 */
export function misspelledConfigNames(env: Record<string, string | undefined>): { name: string; intended: string }[] {
  const known = [...Object.keys(ConfigEnv.shape), ...OTHER_NAMES];
  const found: { name: string; intended: string }[] = [];
  for (const name of Object.keys(env)) {
    if (known.includes(name)) continue;
    const upper = name.toUpperCase();
    let intended: string | undefined;
    let best = Number.POSITIVE_INFINITY;
    for (const candidate of known) {
      const distance = typoDistance(upper, candidate);
      if (distance <= (candidate.length <= 5 ? 1 : 2) && distance < best) {
        best = distance;
        intended = candidate;
      }
    }
    if (intended) found.push({ name, intended });
  }
  return found;
}
