import { type Config, type PublishInput, parseConfig } from '@relaykit/contracts';
import { SignJWT } from 'jose';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Hub, MemoryBroker, Metrics, PresenceHub, type Session, type SessionHost, SetFanout, SseSession, type SseSink, type WsPeer, WsSession } from '../src/adapter.js';
import { type AuthHooks, type Logger, type Principal, RelayError, jwtAuth } from '../src/index.js';
import { frameLimitsOf } from '../src/token-bucket.js';

const silent: Logger = { error() {}, warn() {}, info() {}, debug() {}, enabled: () => false };
const secret = 'a-test-secret-that-is-32-bytes-long!';
const auth: AuthHooks = jwtAuth({ secret });

async function token(sub: string, expInS: number, grants?: { subscribe?: string[] }): Promise<string> {
  const jwt = new SignJWT(grants ? { relaykit: grants } : {}).setProtectedHeader({ alg: 'HS256' }).setSubject(sub);
  return jwt.setExpirationTime(Math.floor(Date.now() / 1000) + expInS).sign(new TextEncoder().encode(secret));
}

async function principal(sub: string, expInS: number, grants?: { subscribe?: string[] }): Promise<Principal> {
  return (await auth.authenticate({ token: await token(sub, expInS, grants), transport: 'ws', url: new URL('http://x/'), header: () => null }))!;
}

/** Real core parts with the JWT hooks; `authenticateToken` as the Relay does it. */
function host(): SessionHost {
  const parsed = parseConfig({ HEARTBEAT_MS: '1000' });
  if (!parsed.ok) throw new Error(parsed.message);
  const config: Config = parsed.config;
  const broker = new MemoryBroker({ historySize: 10, epoch: 'e1' });
  const metrics = new Metrics(() => 0);
  return {
    config,
    serverName: 'test',
    hub: new Hub(broker, new SetFanout(), metrics, config.maxBufferedBytes),
    presence: new PresenceHub(broker.presence, config.presenceMaxMembers, () => {}),
    auth,
    metrics,
    log: silent,
    frameLimits: frameLimitsOf(config),
    publish: (topic: string, input: PublishInput) => broker.publish(topic, input),
    forget: (_session: Session) => {},
    async authenticateToken(t) {
      const p = await auth.authenticate({ token: t, transport: 'ws', url: new URL('http://x/'), header: () => null });
      if (!p) throw new RelayError('unauthorized', 'missing or invalid token');
      return p;
    },
  };
}

class FakePeer implements WsPeer {
  readonly frames: Record<string, unknown>[] = [];
  closes: Array<[number, string]> = [];
  bufferedAmount = 0;
  send(text: string): number {
    this.frames.push(JSON.parse(text) as Record<string, unknown>);
    return text.length;
  }
  close(code: number, reason: string): void {
    this.closes.push([code, reason]);
  }
  terminate(): void {}
  ofType(type: string) {
    return this.frames.filter((f) => f.type === type);
  }
}

/** Lets jose's Web Crypto promises settle (real work, off the fake clock) until `done` holds. */
async function settle(done: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !done(); i++) await new Promise<void>((resolve) => queueMicrotask(resolve)).then(() => vi.advanceTimersByTimeAsync(0));
  if (!done()) throw new Error('condition not reached');
}

describe('token expiry', () => {
  beforeEach(() => vi.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z'), toFake: ['setTimeout', 'clearTimeout', 'Date'] }));
  afterEach(() => vi.useRealTimers());

  it('closes a WebSocket with 4001 at its token exp, and not before', async () => {
    const peer = new FakePeer();
    const session = new WsSession(host(), peer, await principal('u', 10), 'c1');
    session.open();
    await vi.advanceTimersByTimeAsync(9_990);
    expect(peer.closes).toEqual([]);
    await vi.advanceTimersByTimeAsync(20);
    expect(peer.closes).toEqual([[4001, 'token expired']]);
    expect(session.closed).toBe(true);
  });

  it('a refresh moves the close to the new exp and drops the topics the new token does not grant', async () => {
    const h = host();
    const peer = new FakePeer();
    const session = new WsSession(h, peer, await principal('u', 10), 'c1');
    session.open();
    session.onText('{"type":"subscribe","topics":["chat.a","news"],"ref":1}');
    await settle(() => peer.ofType('subscribed').length === 1);
    session.onText(JSON.stringify({ type: 'refresh', token: await token('u', 60, { subscribe: ['chat.*'] }), ref: 'r1' }));
    await settle(() => peer.ofType('refreshed').length === 1);
    expect(peer.ofType('unsubscribed')).toEqual([{ type: 'unsubscribed', topics: ['news'], ref: 'r1' }]);
    expect(peer.ofType('refreshed')).toEqual([{ type: 'refreshed', expiresAt: Date.parse('2026-01-01T00:01:00Z'), ref: 'r1' }]);
    expect(session.holds('news')).toBe(false);
    expect(session.holds('chat.a')).toBe(true);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(peer.closes).toEqual([]);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(peer.closes).toEqual([[4001, 'token expired']]);
    expect(h.hub.topicCount).toBe(0);
  });

  it('refuses a refresh with a bad token, an expired one or another subject, keeping the old exp', async () => {
    const peer = new FakePeer();
    const session = new WsSession(host(), peer, await principal('u', 10), 'c1');
    session.open();
    session.onText('{"type":"refresh","token":"not-a-jwt","ref":1}');
    session.onText(JSON.stringify({ type: 'refresh', token: await token('u', -5), ref: 2 }));
    session.onText(JSON.stringify({ type: 'refresh', token: await token('someone-else', 60), ref: 3 }));
    await settle(() => peer.ofType('error').length === 3);
    // The three run concurrently: their answers may come in any order.
    expect(peer.ofType('error').map((f) => [f.ref, f.code]).sort((a, b) => Number(a[0]) - Number(b[0]))).toEqual([
      [1, 'unauthorized'],
      [2, 'token_expired'],
      [3, 'forbidden'],
    ]);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(peer.closes).toEqual([[4001, 'token expired']]);
  });

  it('ends an SSE stream at exp with event: error token_expired', async () => {
    const sink = { text: '', ended: false, bufferedAmount: 0, write(c: Uint8Array) { this.text += new TextDecoder().decode(c); return c.byteLength; }, end() { this.ended = true; } } satisfies SseSink & { text: string; ended: boolean };
    const p = await principal('u', 5);
    const session = new SseSession(host(), ['t'], undefined, p.expiresAt);
    await session.start(sink);
    await vi.advanceTimersByTimeAsync(4_990);
    expect(sink.ended).toBe(false);
    await vi.advanceTimersByTimeAsync(20);
    expect(sink.text.endsWith('event: error\ndata: {"code":"token_expired"}\n\n')).toBe(true);
    expect(sink.ended).toBe(true);
  });

  it('reaches an exp beyond setTimeout range in steps, not at once', async () => {
    const peer = new FakePeer();
    const session = new WsSession(host(), peer, { id: 'u', expiresAt: Date.now() + 40 * 86_400_000 }, 'c1');
    session.open();
    await vi.advanceTimersByTimeAsync(39 * 86_400_000);
    expect(peer.closes).toEqual([]);
    await vi.advanceTimersByTimeAsync(86_400_000);
    expect(peer.closes).toEqual([[4001, 'token expired']]);
  });
});
