import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jwtAuth } from '../src/index.js';

const secret = 'a-test-secret-that-is-32-bytes-long!';
const sign = (claims: Record<string, unknown>, key = secret, exp = '1h') =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject('u1').setIssuer('relaykit-test').setExpirationTime(exp).sign(new TextEncoder().encode(key));
const request = (token: string | undefined) => ({ token, transport: 'ws' as const, url: new URL('http://x/'), header: () => null });

describe('jwtAuth', () => {
  const auth = jwtAuth({ secret, issuer: 'relaykit-test' });

  it('accepts a valid token and enforces its topic grants, exact or by prefix*', async () => {
    const principal = await auth.authenticate(request(await sign({ relaykit: { subscribe: ['chat.*', 'news'], publish: ['chat.room1'] } })));
    expect(principal).toMatchObject({ id: 'u1' });
    expect(await auth.canSubscribe(principal!, 'chat.anything')).toBe(true);
    expect(await auth.canSubscribe(principal!, 'news')).toBe(true);
    expect(await auth.canSubscribe(principal!, 'newsroom')).toBe(false);
    expect(await auth.canPublish(principal!, 'chat.room1')).toBe(true);
    expect(await auth.canPublish(principal!, 'chat.room2')).toBe(false);
  });

  it('grants every topic when the token carries no relaykit claim', async () => {
    const principal = await auth.authenticate(request(await sign({})));
    expect(await auth.canPublish(principal!, 'any')).toBe(true);
  });

  it('refuses missing, forged, wrong-issuer and malformed-grant tokens', async () => {
    expect(await auth.authenticate(request(undefined))).toBeNull();
    expect(await auth.authenticate(request('not-a-jwt'))).toBeNull();
    expect(await auth.authenticate(request(await sign({}, 'another-secret-that-is-also-32-bytes')))).toBeNull();
    expect(await jwtAuth({ secret, issuer: 'other' }).authenticate(request(await sign({})))).toBeNull();
    expect(await auth.authenticate(request(await sign({ relaykit: { subscribe: 'chat' } })))).toBeNull();
  });

  it('refuses an expired token as token_expired (a forged expired one stays unauthorized)', async () => {
    await expect(auth.authenticate(request(await sign({}, secret, '-1m')))).rejects.toMatchObject({ code: 'token_expired', status: 401 });
    expect(await auth.authenticate(request(await sign({}, 'another-secret-that-is-also-32-bytes', '-1m')))).toBeNull();
  });

  it("gives the principal the token's exp as expiresAt", async () => {
    const exp = Math.floor(Date.now() / 1000) + 600;
    const principal = await auth.authenticate(request(await sign({}, secret, exp as unknown as string)));
    expect(principal?.expiresAt).toBe(exp * 1000);
  });

  it('with requireExp refuses a token without exp as token_exp_required', async () => {
    const strict = jwtAuth({ secret, requireExp: true });
    const noExp = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('u1').setIssuer('relaykit-test').sign(new TextEncoder().encode(secret));
    await expect(strict.authenticate(request(noExp))).rejects.toMatchObject({ code: 'token_exp_required', status: 401 });
    expect(await auth.authenticate(request(noExp))).toMatchObject({ id: 'u1' });
    expect(await strict.authenticate(request(await sign({})))).toMatchObject({ id: 'u1' });
  });
});

describe('jwtAuth with a JWKS (ES256, RS256)', () => {
  const keys: { ec?: CryptoKey; rsa?: CryptoKey; stranger?: CryptoKey } = {};
  let jwksUrl = '';
  let fetches = 0;
  const server = createServer();

  beforeAll(async () => {
    const ec = await generateKeyPair('ES256');
    const rsa = await generateKeyPair('RS256');
    keys.ec = ec.privateKey;
    keys.rsa = rsa.privateKey;
    keys.stranger = (await generateKeyPair('ES256')).privateKey;
    const jwks = { keys: [{ ...(await exportJWK(ec.publicKey)), kid: 'ec1', alg: 'ES256' }, { ...(await exportJWK(rsa.publicKey)), kid: 'rsa1', alg: 'RS256' }] };
    server.on('request', (_req, res) => {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const signWith = (alg: string, kid: string, key: CryptoKey, claims: Record<string, unknown> = {}) =>
    new SignJWT(claims).setProtectedHeader({ alg, kid }).setSubject('u2').setExpirationTime('5m').sign(key);

  it('accepts ES256 and RS256 tokens signed by a key of the set, fetching the set once', async () => {
    const auth = jwtAuth({ jwksUrl });
    const es = await auth.authenticate(request(await signWith('ES256', 'ec1', keys.ec!, { relaykit: { subscribe: ['a'] } })));
    expect(es).toMatchObject({ id: 'u2' });
    expect(await auth.canSubscribe(es!, 'a')).toBe(true);
    expect(await auth.canSubscribe(es!, 'b')).toBe(false);
    expect(await auth.authenticate(request(await signWith('RS256', 'rsa1', keys.rsa!)))).toMatchObject({ id: 'u2' });
    expect(fetches).toBe(1);
  });

  it('refuses a key outside the set, and HS256 when only a JWKS is configured', async () => {
    const auth = jwtAuth({ jwksUrl });
    expect(await auth.authenticate(request(await signWith('ES256', 'ec1', keys.stranger!)))).toBeNull();
    expect(await auth.authenticate(request(await sign({})))).toBeNull();
  });

  it('answers 503 auth_unavailable while the key set cannot be fetched, and recovers when it can', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/jwks.json`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const down = jwtAuth({ jwksUrl: deadUrl });
    const token = await signWith('ES256', 'ec1', keys.ec!);
    await expect(down.authenticate(request(token))).rejects.toMatchObject({ code: 'auth_unavailable', status: 503 });
    // An unknown kid on a reachable set is the client's problem, still a plain refusal.
    const up = jwtAuth({ jwksUrl });
    expect(await up.authenticate(request(await signWith('ES256', 'nope', keys.ec!)))).toBeNull();
    expect(await up.authenticate(request(token))).toMatchObject({ id: 'u2' });
  });

  it('takes both HS256 (secret) and the JWKS when both are configured', async () => {
    const auth = jwtAuth({ secret, jwksUrl });
    expect(await auth.authenticate(request(await sign({})))).toMatchObject({ id: 'u1' });
    expect(await auth.authenticate(request(await signWith('ES256', 'ec1', keys.ec!)))).toMatchObject({ id: 'u2' });
  });
});
