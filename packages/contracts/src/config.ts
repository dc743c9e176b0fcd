import { z } from 'zod';
import { isAddressOrRange, splitAddressList } from './rate-limits.js';

const int = (min: number, max: number, fallback: number) =>
  z.coerce.number().int().min(min).max(max).default(fallback);

/** One `host:port` of REDIS_SENTINELS; an IPv6 address in brackets. */
const SENTINEL_NODE = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):([1-9][0-9]{0,4})$/;
const MAX_SENTINELS = 16;

function sentinelNodes(list: string): { host: string; port: number }[] | undefined {
  const nodes = list.split(',').map((entry) => SENTINEL_NODE.exec(entry.trim()));
  if (nodes.length > MAX_SENTINELS || nodes.some((m) => !m || Number(m[2]) > 65535)) return undefined;
  return nodes.map((m) => ({ host: m![1]!.replace(/^\[(.*)\]$/, '$1'), port: Number(m![2]) }));
}

/** Only in Sentinel mode: with REDIS_URL the credentials are in the URL. */
const SENTINEL_ONLY = ['REDIS_SENTINEL_MASTER', 'REDIS_USERNAME', 'REDIS_PASSWORD', 'REDIS_SENTINEL_PASSWORD'] as const;

/**
 * Server configuration, read from the environment with the same names and defaults on every
 * runtime. Unknown variables are ignored (the environment holds much else).
 */
export const LogLevel = z.enum(['error', 'warn', 'info', 'debug']);
export type LogLevel = z.infer<typeof LogLevel>;

/** The most origins ALLOWED_ORIGINS may list. */
export const MAX_ALLOWED_ORIGINS = 1000;

/**
 * One origin as browsers send it in `Origin`: `scheme://host[:port]`, no path, query or userinfo.
 * http and https origins are normalised as browsers serialise them (lowercase host, no default
 * port), so `https://App.example:443` matches the header `https://app.example`.
 */
function originOf(entry: string): string | undefined {
  const match = /^([a-z][a-z0-9+.-]*):\/\/(\[[0-9a-f:.]+\]|[a-z0-9-]+(?:\.[a-z0-9-]+)*)(?::(\d{1,5}))?$/i.exec(entry);
  if (!match) return undefined;
  const [, scheme, , port] = match;
  if (port !== undefined && Number(port) > 65535) return undefined;
  const lower = scheme!.toLowerCase();
  return lower === 'http' || lower === 'https' ? new URL(entry).origin : entry.toLowerCase();
}

const AllowedOrigins = z
  .string()
  .transform((value, ctx) => {
    const entries = value
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry !== '');
    if (entries.length > MAX_ALLOWED_ORIGINS) {
      ctx.addIssue({ code: 'custom', message: `at most ${MAX_ALLOWED_ORIGINS} origins` });
      return z.NEVER;
    }
    const origins: string[] = [];
    for (const entry of entries) {
      const origin = originOf(entry);
      if (origin === undefined) {
        ctx.addIssue({ code: 'custom', message: `${JSON.stringify(entry)} is not an origin: write scheme://host[:port], e.g. https://app.example or http://localhost:3000 (no path, no trailing slash)` });
        return z.NEVER;
      }
      origins.push(origin);
    }
    if (origins.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'lists no origin: give comma-separated origins, or leave it unset for a public server' });
      return z.NEVER;
    }
    return [...new Set(origins)];
  });

export const ConfigEnv = z.object({
  PORT: int(0, 65535, 8080).describe('TCP port; 0 picks a free one'),
  HOST: z.string().min(1).default('127.0.0.1').describe('Interface to bind; 0.0.0.0 for all'),
  HEARTBEAT_MS: int(100, 3_600_000, 15_000).describe('SSE keepalive and WebSocket ping interval'),
  HISTORY_SIZE: int(0, 1_000_000, 1000).describe('Events kept per topic for replay'),
  MAX_MESSAGE_BYTES: int(256, 16 * 1024 * 1024, 65_536).describe('Largest WebSocket frame or HTTP body accepted'),
  MAX_TOPICS_PER_CONNECTION: int(1, 10_000, 100).describe('Topics one connection may hold'),
  PRESENCE_MAX_MEMBERS: int(0, 1_000_000, 1000).describe('Above this many members of a topic, presence keeps only counts and join/leave stop'),
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
  PUBLISH_RATE: int(0, 1_000_000, 1000).describe(
    'Publishes per second refilled per WebSocket connection and per client IP over HTTP; 0 = no limit',
  ),
  PUBLISH_BURST: int(1, 10_000_000, 2000).describe('Publishes a WebSocket connection or client IP may send at once (bucket size)'),
  CONNECT_RATE: int(0, 1_000_000, 100).describe(
    'New WebSocket upgrades, SSE streams, polls and history reads per second refilled per client IP; 0 = no limit',
  ),
  CONNECT_BURST: int(1, 10_000_000, 1000).describe('Connections and polls a client IP may open at once (bucket size)'),
  SUBSCRIBE_RATE: int(0, 1_000_000, 100).describe(
    'Subscribe frames per second per WebSocket connection, at most this many at once; 0 = no limit',
  ),
  TRUSTED_PROXIES: z
    .string()
    .default('')
    .refine((value) => splitAddressList(value).every(isAddressOrRange), 'must be IPv4/IPv6 addresses or CIDR ranges, separated by commas')
    .describe('Peers whose X-Forwarded-For names the client: IPs and CIDRs, comma-separated; empty = none'),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\/\S+$/, 'must be a redis:// or rediss:// URL')
    .optional()
    .describe('When set, the broker is Redis: instances sharing it act as one broker'),
  REDIS_SENTINELS: z
    .string()
    .refine((list) => sentinelNodes(list) !== undefined, `must be 1-${MAX_SENTINELS} comma-separated host:port (IPv6 as [addr]:port, port 1-65535)`)
    .optional()
    .describe('Instead of REDIS_URL: Redis Sentinels that name the master; the broker follows it through failovers'),
  REDIS_SENTINEL_MASTER: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 characters of A-Z a-z 0-9 _ . -')
    .optional()
    .describe('The master name the Sentinels monitor (`sentinel monitor <name> …`); required with REDIS_SENTINELS'),
  REDIS_USERNAME: z.string().min(1).max(256).optional().describe('ACL user of the Redis servers, in Sentinel mode'),
  REDIS_PASSWORD: z.string().min(1).max(512).optional().describe('Password of the Redis servers, in Sentinel mode'),
  REDIS_SENTINEL_PASSWORD: z.string().min(1).max(512).optional().describe('Password of the Sentinels themselves (their requirepass)'),
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
  AUTH_JWKS_URL: z
    .string()
    .regex(/^https?:\/\/\S+$/, 'must be an http:// or https:// URL')
    .optional()
    .describe('When set, tokens may also be ES256 or RS256 JWTs signed by a key of this JWKS (fetched and cached)'),
  AUTH_REQUIRE_EXP: z
    .enum(['true', 'false', '1', '0'], { message: 'must be true, false, 1 or 0' })
    .default('false')
    .transform((value) => value === 'true' || value === '1')
    .describe('Refuse tokens without `exp` (401 token_exp_required)'),
  METRICS_TOKEN: z
    .string()
    .min(16, 'must be at least 16 characters')
    .optional()
    .describe('When set, GET /metrics needs `Authorization: Bearer <METRICS_TOKEN>`'),
  ALLOWED_ORIGINS: AllowedOrigins.optional().describe(
    'Comma-separated origins (scheme://host[:port]) whose pages may use the server; requests with any other foreign Origin get 403 origin_not_allowed. Unset: any origin (CORS *)',
  ),
  TLS_CERT_FILE: z.string().min(1).optional().describe('PEM certificate (chain) file: with TLS_KEY_FILE the server speaks HTTPS (HTTP/2 and HTTP/1.1)'),
  TLS_KEY_FILE: z.string().min(1).optional().describe('PEM private key file of TLS_CERT_FILE'),
});

export const Config = ConfigEnv.superRefine((env, ctx) => {
  // Workers share nothing but the broker: without Redis each would be an island behind one port.
  if (env.WORKERS > 1 && !env.REDIS_URL && !env.REDIS_SENTINELS) {
    ctx.addIssue({ code: 'custom', path: ['WORKERS'], message: 'more than 1 worker needs REDIS_URL or REDIS_SENTINELS: workers share one broker through Redis' });
  }
  if (env.REDIS_URL && env.REDIS_SENTINELS) {
    ctx.addIssue({ code: 'custom', path: ['REDIS_SENTINELS'], message: 'set either REDIS_URL (one Redis) or REDIS_SENTINELS (a master found by Sentinels), not both' });
  }
  if (env.REDIS_SENTINELS && !env.REDIS_SENTINEL_MASTER) {
    ctx.addIssue({ code: 'custom', path: ['REDIS_SENTINEL_MASTER'], message: 'is required with REDIS_SENTINELS: the name the Sentinels monitor' });
  }
  for (const name of SENTINEL_ONLY) {
    if (env[name] !== undefined && !env.REDIS_SENTINELS) {
      ctx.addIssue({ code: 'custom', path: [name], message: 'only applies with REDIS_SENTINELS (with REDIS_URL, credentials go in the URL)' });
    }
  }
  // Without a token check there is no `exp` to require: say so rather than silently do nothing.
  if (env.AUTH_REQUIRE_EXP && !env.AUTH_JWT_SECRET && !env.AUTH_JWKS_URL) {
    ctx.addIssue({ code: 'custom', path: ['AUTH_REQUIRE_EXP'], message: 'needs AUTH_JWT_SECRET or AUTH_JWKS_URL: without JWT auth no token is checked' });
  }
  // One without the other is a half-configured HTTPS server: refuse it rather than serve plain HTTP.
  if (Boolean(env.TLS_CERT_FILE) !== Boolean(env.TLS_KEY_FILE)) {
    const missing = env.TLS_CERT_FILE ? 'TLS_KEY_FILE' : 'TLS_CERT_FILE';
    ctx.addIssue({ code: 'custom', path: [missing], message: 'TLS_CERT_FILE and TLS_KEY_FILE go together: set both or neither' });
  }
}).transform((env) => ({
  port: env.PORT,
  host: env.HOST,
  heartbeatMs: env.HEARTBEAT_MS,
  historySize: env.HISTORY_SIZE,
  maxMessageBytes: env.MAX_MESSAGE_BYTES,
  maxTopicsPerConnection: env.MAX_TOPICS_PER_CONNECTION,
  presenceMaxMembers: env.PRESENCE_MAX_MEMBERS,
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
  publishRate: env.PUBLISH_RATE,
  publishBurst: env.PUBLISH_BURST,
  connectRate: env.CONNECT_RATE,
  connectBurst: env.CONNECT_BURST,
  subscribeRate: env.SUBSCRIBE_RATE,
  trustedProxies: splitAddressList(env.TRUSTED_PROXIES),
  logLevel: env.LOG_LEVEL,
  workers: env.WORKERS,
  redis: env.REDIS_URL
    ? { url: env.REDIS_URL, keyPrefix: env.REDIS_KEY_PREFIX }
    : env.REDIS_SENTINELS
      ? {
          keyPrefix: env.REDIS_KEY_PREFIX,
          sentinel: {
            nodes: sentinelNodes(env.REDIS_SENTINELS)!,
            masterName: env.REDIS_SENTINEL_MASTER!,
            username: env.REDIS_USERNAME,
            password: env.REDIS_PASSWORD,
            sentinelPassword: env.REDIS_SENTINEL_PASSWORD,
          },
        }
      : undefined,
  auth:
    env.AUTH_JWT_SECRET || env.AUTH_JWKS_URL
      ? {
          jwtSecret: env.AUTH_JWT_SECRET,
          jwksUrl: env.AUTH_JWKS_URL,
          issuer: env.AUTH_JWT_ISSUER,
          audience: env.AUTH_JWT_AUDIENCE,
          requireExp: env.AUTH_REQUIRE_EXP,
        }
      : undefined,
  metricsToken: env.METRICS_TOKEN,
  allowedOrigins: env.ALLOWED_ORIGINS,
  tls: env.TLS_CERT_FILE && env.TLS_KEY_FILE ? { certFile: env.TLS_CERT_FILE, keyFile: env.TLS_KEY_FILE } : undefined,
}));
export type Config = z.output<typeof Config>;
/** Where a Sentinel-mode broker asks for its master (REDIS_SENTINELS and friends). */
export type RedisSentinelConfig = Extract<NonNullable<Config['redis']>, { sentinel: unknown }>['sentinel'];
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
    const value = /SECRET|TOKEN|PASSWORD/.test(name) || name === 'REDIS_URL' ? '<redacted>' : JSON.stringify(known[name] ?? '');
    return `  ${name}=${value}: ${issue.message}`;
  });
  return { ok: false, message: `Invalid relaykit configuration:\n${lines.join('\n')}` };
}

/** Names relaykit reads besides the config (the worker marker), so they are never taken for typos. */
const OTHER_NAMES = ['RELAYKIT_WORKER'];
/** Other software's well-known variables that sit near ours (OpenSSL's, next to TLS_CERT_FILE). */
const FOREIGN_NAMES = ['SSL_CERT_FILE', 'SSL_CERT_DIR', 'SSL_KEY_FILE'];

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
    if (known.includes(name) || FOREIGN_NAMES.includes(name)) continue;
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
