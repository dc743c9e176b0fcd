import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ClientFrame, EventType, TopicName, formatEventId, newEpoch, parseConfig, parseEventId } from '../src/index.js';

describe('event ids', () => {
  it('parse what they format, and nothing this protocol could not have issued', () => {
    fc.assert(
      fc.property(fc.nat({ max: Number.MAX_SAFE_INTEGER }), (seq) => {
        const epoch = newEpoch();
        expect(parseEventId(formatEventId(epoch, seq))).toEqual({ epoch, seq });
      }),
    );
    for (const bad of ['', '-', 'abc', 'a-', '-1', 'A-1', 'a-01', 'a-1.5', 'a-99999999999999999', 'a-1\n']) {
      expect(parseEventId(bad)).toBeUndefined();
    }
  });

  it('epochs of later starts sort after earlier ones', () => {
    expect(newEpoch(1_800_000_000_000) > newEpoch(1_700_000_000_000)).toBe(true);
  });
});

describe('names', () => {
  it('topic names and event types never contain characters that need escaping', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        for (const schema of [TopicName, EventType]) {
          if (schema.safeParse(s).success) expect(s).toMatch(/^[A-Za-z0-9_.:-]+$/);
        }
      }),
    );
    expect(EventType.safeParse('reset').success).toBe(false);
    expect(EventType.safeParse('chat.message').success).toBe(true);
  });

  it('client frames are strict: unknown fields are refused', () => {
    expect(ClientFrame.safeParse({ type: 'ping' }).success).toBe(true);
    expect(ClientFrame.safeParse({ type: 'ping', extra: 1 }).success).toBe(false);
    expect(ClientFrame.safeParse({ type: 'subscribe', topics: [] }).success).toBe(false);
  });
});

describe('config', () => {
  it('has the documented defaults', () => {
    const result = parseConfig({});
    expect(result).toEqual({
      ok: true,
      config: {
        port: 8080,
        host: '127.0.0.1',
        heartbeatMs: 15000,
        historySize: 1000,
        maxMessageBytes: 65536,
        maxTopicsPerConnection: 100,
        presenceMaxMembers: 1000,
        maxConnections: 0,
        maxBufferedBytes: 4 * 1024 * 1024,
        sseRetryMs: 2000,
        shutdownGraceMs: 5000,
        maxJsonDepth: 64,
        maxHistories: 10_000,
        historyMaxBytes: 64 * 1024 * 1024,
        historyTtlMs: 3_600_000,
        idempotencyTtlMs: 300_000,
        idempotencyMaxKeys: 100_000,
        requestTimeoutMs: 30_000,
        publishRate: 1000,
        publishBurst: 2000,
        connectRate: 100,
        connectBurst: 1000,
        subscribeRate: 100,
        trustedProxies: [],
        logLevel: 'info',
        workers: 1,
        redis: undefined,
        auth: undefined,
        metricsToken: undefined,
        allowedOrigins: undefined,
        tls: undefined,
      },
    });
  });

  it('reads ALLOWED_ORIGINS as normalised origins and names a bad entry', () => {
    const listed = parseConfig({ ALLOWED_ORIGINS: ' https://App.example:443, http://localhost:3000 ,http://[::1]:8080,https://app.example,' });
    expect(listed.ok && listed.config.allowedOrigins).toEqual(['https://app.example', 'http://localhost:3000', 'http://[::1]:8080']);
    for (const entry of ['https://app.example/', 'app.example', 'https://app.example/path', 'https://user@app.example', 'http://a.example:99999', 'null', '*']) {
      const bad = parseConfig({ ALLOWED_ORIGINS: `https://ok.example,${entry}` });
      expect(!bad.ok && bad.message, entry).toContain(`ALLOWED_ORIGINS="https://ok.example,${entry}": ${JSON.stringify(entry)} is not an origin: write scheme://host[:port]`);
    }
    const empty = parseConfig({ ALLOWED_ORIGINS: ' , ' });
    expect(!empty.ok && empty.message).toMatch(/ALLOWED_ORIGINS=" , ": lists no origin/);
  });

  it('takes TLS_CERT_FILE and TLS_KEY_FILE together or not at all', () => {
    const both = parseConfig({ TLS_CERT_FILE: '/etc/relaykit/cert.pem', TLS_KEY_FILE: '/etc/relaykit/key.pem' });
    expect(both.ok && both.config.tls).toEqual({ certFile: '/etc/relaykit/cert.pem', keyFile: '/etc/relaykit/key.pem' });
    const certOnly = parseConfig({ TLS_CERT_FILE: '/etc/relaykit/cert.pem' });
    expect(!certOnly.ok && certOnly.message).toMatch(/TLS_KEY_FILE="": TLS_CERT_FILE and TLS_KEY_FILE go together/);
    const keyOnly = parseConfig({ TLS_KEY_FILE: '/etc/relaykit/key.pem' });
    expect(!keyOnly.ok && keyOnly.message).toMatch(/TLS_CERT_FILE="": TLS_CERT_FILE and TLS_KEY_FILE go together/);
  });

  it('turns on JWT auth when a secret is given, refusing short secrets', () => {
    const secret = 'x'.repeat(32);
    const on = parseConfig({ AUTH_JWT_SECRET: secret, AUTH_JWT_ISSUER: 'me' });
    expect(on.ok && on.config.auth).toEqual({ jwtSecret: secret, jwksUrl: undefined, issuer: 'me', audience: undefined, requireExp: false });
    const short = parseConfig({ AUTH_JWT_SECRET: 'short' });
    expect(!short.ok && short.message).toMatch(/AUTH_JWT_SECRET=<redacted>: must be at least 32/);
  });

  it('turns on JWT auth with a JWKS URL alone; AUTH_REQUIRE_EXP needs JWT auth; METRICS_TOKEN is redacted', () => {
    const jwks = parseConfig({ AUTH_JWKS_URL: 'http://127.0.0.1:9/jwks.json', AUTH_REQUIRE_EXP: 'true', METRICS_TOKEN: 'm'.repeat(16) });
    expect(jwks.ok && jwks.config.auth).toMatchObject({ jwtSecret: undefined, jwksUrl: 'http://127.0.0.1:9/jwks.json', requireExp: true });
    expect(jwks.ok && jwks.config.metricsToken).toBe('m'.repeat(16));
    const alone = parseConfig({ AUTH_REQUIRE_EXP: '1' });
    expect(!alone.ok && alone.message).toMatch(/AUTH_REQUIRE_EXP="1": needs AUTH_JWT_SECRET or AUTH_JWKS_URL/);
    const bad = parseConfig({ AUTH_JWKS_URL: 'ftp://x', AUTH_REQUIRE_EXP: 'yes', METRICS_TOKEN: 'short' });
    expect(!bad.ok && bad.message).toMatch(/AUTH_JWKS_URL="ftp:\/\/x": must be an http/);
    expect(!bad.ok && bad.message).toMatch(/AUTH_REQUIRE_EXP="yes": must be true, false, 1 or 0/);
    expect(!bad.ok && bad.message).toMatch(/METRICS_TOKEN=<redacted>: must be at least 16/);
  });

  it('reads TRUSTED_PROXIES as IPv4/IPv6 addresses and CIDRs, refusing anything else', () => {
    const ok = parseConfig({ TRUSTED_PROXIES: '10.0.0.0/8, 127.0.0.1 ::1,fd00::/8' });
    expect(ok.ok && ok.config.trustedProxies).toEqual(['10.0.0.0/8', '127.0.0.1', '::1', 'fd00::/8']);
    for (const bad of ['nginx', '10.0.0.0/33', '0x7f.1', '127.0.0.1/8/8', '::1/129']) {
      const result = parseConfig({ TRUSTED_PROXIES: bad });
      expect(!result.ok && result.message, bad).toMatch(/TRUSTED_PROXIES=.*must be IPv4\/IPv6 addresses or CIDR ranges/);
    }
  });

  it('reads a Sentinel deployment: nodes, master name and credentials, never echoing a password', () => {
    const on = parseConfig({ REDIS_SENTINELS: '10.0.0.1:26379, sentinel-b:26380,[::1]:26381', REDIS_SENTINEL_MASTER: 'relay', REDIS_PASSWORD: 'pw' });
    expect(on.ok && on.config.redis).toEqual({
      keyPrefix: 'relaykit:',
      sentinel: {
        nodes: [
          { host: '10.0.0.1', port: 26379 },
          { host: 'sentinel-b', port: 26380 },
          { host: '::1', port: 26381 },
        ],
        masterName: 'relay',
        username: undefined,
        password: 'pw',
        sentinelPassword: undefined,
      },
    });
    expect(parseConfig({ REDIS_SENTINELS: 'a:1', REDIS_SENTINEL_MASTER: 'm', WORKERS: '4' }).ok).toBe(true);
    const cases: [Record<string, string>, RegExp][] = [
      [{ REDIS_SENTINELS: 'a:1' }, /REDIS_SENTINEL_MASTER="": is required with REDIS_SENTINELS/],
      [{ REDIS_SENTINELS: 'a:1', REDIS_SENTINEL_MASTER: 'm', REDIS_URL: 'redis://:pw@h:1' }, /REDIS_SENTINELS="a:1": set either REDIS_URL .* not both/],
      [{ REDIS_SENTINELS: 'a', REDIS_SENTINEL_MASTER: 'm' }, /REDIS_SENTINELS="a": must be 1-16 comma-separated host:port/],
      [{ REDIS_SENTINELS: 'a:70000', REDIS_SENTINEL_MASTER: 'm' }, /port 1-65535/],
      [{ REDIS_SENTINELS: Array.from({ length: 17 }, (_, i) => `h${i}:1`).join(','), REDIS_SENTINEL_MASTER: 'm' }, /must be 1-16/],
      [{ REDIS_SENTINELS: 'a:1', REDIS_SENTINEL_MASTER: 'no spaces' }, /REDIS_SENTINEL_MASTER="no spaces": must be 1-64 characters/],
      [{ REDIS_URL: 'redis://h:1', REDIS_PASSWORD: 'hunter2' }, /REDIS_PASSWORD=<redacted>: only applies with REDIS_SENTINELS/],
      [{ REDIS_SENTINEL_PASSWORD: 'hunter2' }, /REDIS_SENTINEL_PASSWORD=<redacted>: only applies/],
    ];
    for (const [env, message] of cases) {
      const result = parseConfig(env);
      expect(!result.ok && result.message).toMatch(message);
      expect(!result.ok && result.message).not.toMatch(/hunter2|:pw@/);
    }
  });

  it('names every bad variable in one message', () => {
    const result = parseConfig({ HEARTBEAT_MS: 'abc', PORT: '70000', UNRELATED: 'x' });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.message).toMatch(/HEARTBEAT_MS="abc"/);
    expect(result.message).toMatch(/PORT="70000"/);
    expect(result.message).not.toMatch(/UNRELATED/);
  });
});
