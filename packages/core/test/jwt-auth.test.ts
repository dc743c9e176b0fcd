import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
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

  it('refuses missing, forged, expired, wrong-issuer and malformed-grant tokens', async () => {
    expect(await auth.authenticate(request(undefined))).toBeNull();
    expect(await auth.authenticate(request('not-a-jwt'))).toBeNull();
    expect(await auth.authenticate(request(await sign({}, 'another-secret-that-is-also-32-bytes')))).toBeNull();
    expect(await auth.authenticate(request(await sign({}, secret, '-1m')))).toBeNull();
    expect(await jwtAuth({ secret, issuer: 'other' }).authenticate(request(await sign({})))).toBeNull();
    expect(await auth.authenticate(request(await sign({ relaykit: { subscribe: 'chat' } })))).toBeNull();
  });
});
