import { parseConfig } from '@relaykit/contracts';
import { describe, expect, it } from 'vitest';
import type { AuthRequest } from '../src/auth.js';
import { handshakeOfHeaders } from '../src/handshake.js';
import { OriginPolicy } from '../src/origin.js';
import { Relay } from '../src/relay.js';

const request = (headers: Record<string, string>, base = 'http://localhost') => handshakeOfHeaders(new URL('/v1/ws', base), headers);

describe('OriginPolicy', () => {
  const listed = new OriginPolicy(['https://app.example']);
  const open = new OriginPolicy(undefined);

  it('counts an Origin as same-origin by the scheme reached and the Host header, as browsers serialise it', () => {
    for (const policy of [listed, open]) {
      expect(policy.cookieHonoured(request({ host: 'Relay.example:80', origin: 'http://relay.example' }))).toBe(true);
      expect(policy.cookieHonoured(request({ host: 'relay.example:8443', origin: 'https://relay.example:8443' }, 'https://localhost'))).toBe(true);
      // The same host over another scheme, another port, or a Host that is no host[:port].
      expect(policy.cookieHonoured(request({ host: 'relay.example', origin: 'https://relay.example' }))).toBe(false);
      expect(policy.cookieHonoured(request({ host: 'relay.example:8080', origin: 'http://relay.example:8081' }))).toBe(false);
      expect(policy.cookieHonoured(request({ host: 'evil.example/x', origin: 'http://evil.example' }))).toBe(false);
      expect(policy.cookieHonoured(request({ origin: 'http://relay.example' }))).toBe(false);
      expect(policy.cookieHonoured(request({ host: 'relay.example' }))).toBe(true);
    }
    expect(listed.cookieHonoured(request({ host: 'relay.example', origin: 'https://app.example' }))).toBe(true);
  });

  it('refuses only a foreign Origin, and only when origins are listed', () => {
    const foreign = request({ host: 'relay.example', origin: 'http://evil.example' });
    expect(() => open.check(foreign)).not.toThrow();
    expect(() => listed.check(foreign)).toThrow(expect.objectContaining({ code: 'origin_not_allowed', status: 403 }));
    for (const fine of [{ host: 'relay.example' }, { host: 'relay.example', origin: 'http://relay.example' }, { host: 'relay.example', origin: 'https://app.example' }]) {
      expect(() => listed.check(request(fine))).not.toThrow();
    }
  });

  it('grants * when public, else the listed origin by name, with Vary: Origin', () => {
    expect(open.corsHeaders('http://evil.example')).toEqual({ 'access-control-allow-origin': '*' });
    expect(listed.corsHeaders('https://app.example')).toEqual({ 'access-control-allow-origin': 'https://app.example', vary: 'Origin' });
    expect(listed.corsHeaders('http://evil.example')).toEqual({ vary: 'Origin' });
    expect(listed.corsHeaders(null)).toEqual({ vary: 'Origin' });
  });
});

describe('the token cookie from a foreign page', () => {
  it('reaches neither the token nor an auth hook reading headers itself', async () => {
    const parsed = parseConfig({});
    if (!parsed.ok) throw new Error(parsed.message);
    const seen: AuthRequest[] = [];
    const relay = new Relay({
      config: parsed.config,
      serverName: 'test',
      auth: { authenticate: (r) => (seen.push(r), { id: 'x' }), canSubscribe: () => true, canPublish: () => true },
    });
    const cookie = 'relaykit_token=secret';
    await relay.acceptWs(request({ host: 'relay.example', origin: 'http://evil.example', cookie }));
    await relay.acceptWs(request({ host: 'relay.example', origin: 'http://relay.example', cookie }));
    await relay.acceptWs(request({ host: 'relay.example', origin: 'http://evil.example', cookie, authorization: 'Bearer deliberate' }));
    expect(seen.map((r) => [r.token, r.header('cookie')])).toEqual([
      [undefined, null],
      ['secret', cookie],
      ['deliberate', null],
    ]);
    await relay.drain();
    await relay.close();
  });
});
