/** The client's token on every transport against servers that require JWTs (AUTH_JWT_SECRET). */
import { createHmac } from 'node:crypto';
import { RelayKitError, createClient } from '@relaykit/client';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { RUNTIMES, type Runtime, type RunningServer, startServer, until } from './servers.ts';

const SECRET = 'e2e-secret-that-is-at-least-32-bytes-long';
const b64 = (value: object | Buffer) => (Buffer.isBuffer(value) ? value : Buffer.from(JSON.stringify(value))).toString('base64url');
function jwt(payload: object): string {
  const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ exp: Math.floor(Date.now() / 1000) + 600, ...payload })}`;
  return `${head}.${b64(createHmac('sha256', SECRET).update(head).digest())}`;
}

describe.each(RUNTIMES)('client with a token against %s (JWT auth)', (runtime: Runtime) => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(runtime, { AUTH_JWT_SECRET: SECRET });
  });
  afterAll(async () => {
    await server?.stop();
  });

  test.each(['sse', 'ws', 'poll'] as const)('%s: the token opens the connection and publishes; grants are enforced', async (kind) => {
    const token = jwt({ sub: 'e2e', relaykit: { subscribe: ['auth-*'], publish: [`auth-${kind}`] } });
    const client = createClient({ url: server.url, transport: kind, topics: [`auth-${kind}`], token: async () => token });
    try {
      const got: string[] = [];
      client.on('event', (event) => got.push(event.id));
      await until('open', () => client.state === 'open');
      const id = await client.publish(`auth-${kind}`, 'x', null);
      await until('own event', () => got.includes(id));
      const refused = (await client.publish('elsewhere', 'x', null).catch((e: unknown) => e)) as RelayKitError;
      expect(refused).toBeInstanceOf(RelayKitError);
      expect(refused.code).toBe('forbidden');
    } finally {
      client.close();
    }
  });

  test('without a token: connections fail and publishing is refused with unauthorized', async () => {
    const client = createClient({ url: server.url, transport: 'sse', topics: ['auth-x'], backoff: { baseMs: 50 } });
    try {
      const errors: string[] = [];
      client.on('error', (error) => errors.push(error.code));
      await until('unauthorized surfaced', () => errors.includes('unauthorized'));
      expect(client.state).not.toBe('open');
      const refused = (await client.publish('auth-x', 'x', null).catch((e: unknown) => e)) as RelayKitError;
      expect(refused.code).toBe('unauthorized');
      expect(refused.status).toBe(401);
    } finally {
      client.close();
    }
  });
});
