import { ErrorBody, PollResponse } from '@relaykit/contracts';
import { expect } from 'vitest';
import { type SpawnedServer } from '../server.ts';
import {
  type JwksServer,
  type SigningKey,
  SseStream,
  WsClient,
  expIn,
  expectHttpError,
  hasCmd,
  historyUrl,
  ownServer,
  serveJwks,
  signAsymmetric,
  signHs256,
  signingKey,
  stopOwnServers,
  topicUrl,
  uniqueTopic,
  upgradeStatus,
  wsUrl,
} from '../harness/index.ts';
import { defineArea } from '../case.ts';

const area = defineArea('auth');

const SECRET = 'conformance-secret-of-at-least-32-characters';
const METRICS_TOKEN = 'conformance-metrics-token';
const sign = (payload: Record<string, unknown>, secret = SECRET) => signHs256(payload, secret);

/** Keys of the JWKS this process serves to the auth server (AUTH_JWKS_URL). */
const keys: { es256?: SigningKey; rs256?: SigningKey; stranger?: SigningKey } = {};
let jwks: JwksServer | undefined;
let server: SpawnedServer | undefined;
area.beforeAll(async () => {
  if (!hasCmd()) return;
  keys.es256 = signingKey('ES256', 'cf-es256');
  keys.rs256 = signingKey('RS256', 'cf-rs256');
  keys.stranger = signingKey('ES256', 'cf-es256'); // same kid, a key the set does not hold
  jwks = await serveJwks([keys.es256, keys.rs256]);
  server = await ownServer({ AUTH_JWT_SECRET: SECRET, AUTH_JWKS_URL: jwks.url });
});
area.afterAll(async () => {
  await stopOwnServers();
  await jwks?.close();
});

/** A second server, started on first use: AUTH_REQUIRE_EXP and METRICS_TOKEN on. */
let strict: Promise<SpawnedServer> | undefined;
const strictServer = () => (strict ??= ownServer({ AUTH_JWT_SECRET: SECRET, AUTH_REQUIRE_EXP: 'true', METRICS_TOKEN }));

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const sleepUntil = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms - Date.now())));
/** A server's clock may tick its timer a little after ours; how late an exp may be acted on. */
const EXP_SLACK_MS = 1500;


area.describe('auth (AUTH_JWT_SECRET)', [
  {
    id: 'AUTH-001',
    level: 'MUST',
    section: '10',
    title: 'refuse every transport without a token with 401 unauthorized and WWW-Authenticate: Bearer',
    run: async (ctx) => {
      if (!server) return ctx.skip('needs --cmd: this case starts a server with AUTH_JWT_SECRET');
      const sse = await fetch(`${server.url}/v1/events?topic=a`);
      expect(sse.headers.get('www-authenticate') ?? '').toMatch(/^Bearer/i);
      await expectHttpError(sse, 401, 'unauthorized');
      await expectHttpError(fetch(topicUrl('a', server.url), { method: 'POST', body: '{"type":"t"}' }), 401, 'unauthorized');
      await expectHttpError(fetch(`${topicUrl('a', server.url)}?wait=0`), 401, 'unauthorized');
      const refused = await upgradeStatus(wsUrl(server.url));
      expect(refused.status).toBe(401);
      expect(ErrorBody.parse(JSON.parse(refused.body)).error.code).toBe('unauthorized');
      // Health and metrics stay open to probes.
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    },
  },

  {
    id: 'AUTH-002',
    level: 'MUST',
    section: '10',
    title: 'refuse a token with a bad signature or an expired one',
    run: async (ctx) => {
      if (!server) return ctx.skip('needs --cmd: this case starts a server with AUTH_JWT_SECRET');
      for (const token of [sign({ sub: 'x' }, 'another-secret-of-at-least-32-characters!'), 'not.a.jwt']) {
        const headers = bearer(token);
        await expectHttpError(fetch(`${topicUrl('a', server.url)}?wait=0`, { headers }), 401, 'unauthorized');
        expect((await upgradeStatus(wsUrl(server.url), headers)).status).toBe(401);
      }
      // Expired is its own code, so that a client knows a new token helps (§10).
      const expired = bearer(sign({ sub: 'x', exp: 1 }));
      await expectHttpError(fetch(`${topicUrl('a', server.url)}?wait=0`, { headers: expired }), 401, 'token_expired');
      await expectHttpError(fetch(`${server.url}/v1/events?topic=a`, { headers: expired }), 401, 'token_expired');
      const refused = await upgradeStatus(wsUrl(server.url), expired);
      expect(refused.status).toBe(401);
      expect(ErrorBody.parse(JSON.parse(refused.body)).error.code).toBe('token_expired');
    },
  },

  {
    id: 'AUTH-003',
    level: 'MUST',
    section: '10',
    title: 'accept a valid token from the Authorization header, the token query parameter and the relaykit_token cookie',
    run: async (ctx) => {
      if (!server) return ctx.skip('needs --cmd: this case starts a server with AUTH_JWT_SECRET');
      const token = sign({ sub: 'alice' });
      const published = await fetch(topicUrl('auth.a', server.url), {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
        body: JSON.stringify({ type: 't', data: 1 }),
      });
      expect(published.status).toBe(201);
      const viaQuery = await SseStream.open(['auth.a'], { base: server.url, query: { token } });
      await viaQuery.close();
      const viaCookie = await fetch(`${server.url}/v1/events?topic=auth.a`, { headers: { cookie: `other=1; relaykit_token=${token}` } });
      expect(viaCookie.status).toBe(200);
      await viaCookie.body?.cancel();
      expect((await upgradeStatus(`${wsUrl(server.url)}?token=${token}`)).status).toBe(101);
    },
  },

  {
    id: 'AUTH-004',
    level: 'MUST',
    section: '10',
    title: 'enforce topic grants: 403 forbidden on HTTP and SSE, an error frame on WebSocket',
    run: async (ctx) => {
      if (!server) return ctx.skip('needs --cmd: this case starts a server with AUTH_JWT_SECRET');
      const token = sign({ sub: 'bob', relaykit: { subscribe: ['chat.*'], publish: ['chat.public'] } });
      const auth = { authorization: `Bearer ${token}` };
      await expectHttpError(fetch(`${server.url}/v1/events?topic=secret&token=${token}`), 403, 'forbidden');
      await expectHttpError(fetch(`${topicUrl('secret', server.url)}?wait=0`, { headers: auth }), 403, 'forbidden');
      await expectHttpError(
        fetch(topicUrl('chat.room', server.url), { method: 'POST', headers: auth, body: '{"type":"t"}' }),
        403,
        'forbidden',
      );
      const ws = await WsClient.connect(server.url, { headers: auth });
      ws.send({ type: 'subscribe', topics: ['secret'], ref: 's' });
      expect(await ws.next('error')).toMatchObject({ code: 'forbidden', ref: 's' });
      ws.send({ type: 'publish', topic: 'chat.room', event: { type: 't' }, ref: 'p' });
      expect(await ws.next('error', (f) => f.ref === 'p')).toMatchObject({ code: 'forbidden' });
      await ws.subscribe(['chat.public']);
      const ack = await ws.publish('chat.public', 'said', 'hi');
      const [event] = await ws.waitEvents(1);
      expect(event!.id).toBe(ack.id);
      await ws.close();
    },
  },
  {
    id: 'AUTH-005',
    level: 'MUST',
    section: '10',
    title: 'close a WebSocket with 4001 "token expired" at its token\'s exp',
    run: async (ctx) => {
      if (!server) return ctx.skip('needs --cmd: this case starts a server with AUTH_JWT_SECRET');
      const exp = expIn(2);
      const ws = await WsClient.connect(server.url, { headers: bearer(sign({ sub: 'eve', exp })) });
      await ws.subscribe([uniqueTopic('exp')]);
      const closed = await ws.closed;
      const at = Date.now();
      expect(closed).toEqual({ code: 4001, reason: 'token expired' });
      expect(at, 'not before exp').toBeGreaterThanOrEqual(exp * 1000 - 50);
      expect(at, 'at exp').toBeLessThan(exp * 1000 + EXP_SLACK_MS);
      ws.expectAllValid();
    },
  },

  {
    id: 'AUTH-006',
    level: 'MUST',
    section: '10',
    title: 'keep a WebSocket open past the old exp after a refresh frame with a new valid token, answered refreshed; refuse a bad one with an error frame',
    run: async (ctx) => {
      if (!server) return ctx.skip('needs --cmd: this case starts a server with AUTH_JWT_SECRET');
      const exp = expIn(2);
      const topic = uniqueTopic('refresh');
      const ws = await WsClient.connect(server.url, { headers: bearer(sign({ sub: 'fay', exp })) });
      await ws.subscribe([topic]);
      ws.send({ type: 'refresh', token: 'not.a.jwt', ref: 'bad' });
      expect(await ws.next('error', (f) => f.ref === 'bad')).toMatchObject({ code: 'unauthorized' });
      ws.send({ type: 'refresh', token: sign({ sub: 'mallory', exp: expIn(60) }), ref: 'other' });
      expect(await ws.next('error', (f) => f.ref === 'other'), 'a refresh may not change the subject').toMatchObject({ code: 'forbidden' });
      const later = expIn(60);
      ws.send({ type: 'refresh', token: sign({ sub: 'fay', exp: later }), ref: 'r1' });
      expect(await ws.next('refreshed', (f) => f.ref === 'r1')).toEqual({ type: 'refreshed', expiresAt: later * 1000, ref: 'r1' });
      await sleepUntil(exp * 1000 + EXP_SLACK_MS);
      expect(ws.isOpen, 'open past the old exp').toBe(true);
      const ack = await ws.publish(topic, 'still.here', 1);
      expect((await ws.waitEvents(1, topic))[0]!.id).toBe(ack.id);
      await ws.close();
    },
  },

  {
    id: 'AUTH-007',
    level: 'MUST',
    section: '10',
    title: 'on a refresh whose token grants fewer topics, drop the others with an unsubscribed frame before refreshed',
    run: async (ctx) => {
      if (!server) return ctx.skip('needs --cmd: this case starts a server with AUTH_JWT_SECRET');
      const prefix = uniqueTopic('grants');
      const [kept, dropped] = [`${prefix}.kept`, `${prefix}.dropped`];
      const ws = await WsClient.connect(server.url, { headers: bearer(sign({ sub: 'gus', exp: expIn(60), relaykit: { subscribe: [`${prefix}.*`] } })) });
      await ws.subscribe([kept, dropped]);
      ws.send({ type: 'refresh', token: sign({ sub: 'gus', exp: expIn(60), relaykit: { subscribe: [kept] } }), ref: 'narrow' });
      const refreshed = await ws.next('refreshed', (f) => f.ref === 'narrow');
      const unsubscribed = ws.all('unsubscribed');
      expect(unsubscribed).toEqual([{ type: 'unsubscribed', topics: [dropped], ref: 'narrow' }]);
      expect(ws.frames.items.indexOf(unsubscribed[0]!)).toBeLessThan(ws.frames.items.indexOf(refreshed));
      const publisher = bearer(sign({ sub: 'pub' }));
      for (const topic of [dropped, kept]) {
        const res = await fetch(topicUrl(topic, server.url), { method: 'POST', headers: publisher, body: JSON.stringify({ type: 'after.refresh', data: topic }) });
        expect(res.status).toBe(201);
      }
      await ws.waitEvents(1, kept);
      await ws.ping(); // anything of the dropped topic would have come before this
      expect(ws.events(dropped)).toEqual([]);
      ws.send({ type: 'subscribe', topics: [dropped], ref: 'again' });
      expect(await ws.next('error', (f) => f.ref === 'again')).toMatchObject({ code: 'forbidden' });
      await ws.close();
    },
  },

  {
    id: 'AUTH-008',
    level: 'MUST',
    section: '10',
    title: 'end an SSE stream at its token\'s exp with event: error and data {"code":"token_expired"}',
    run: async (ctx) => {
      if (!server) return ctx.skip('needs --cmd: this case starts a server with AUTH_JWT_SECRET');
      const exp = expIn(2);
      const stream = await SseStream.open([uniqueTopic('sse-exp')], { base: server.url, query: { token: sign({ sub: 'hal', exp }) } });
      await stream.done;
      const at = Date.now();
      expect(at, 'not before exp').toBeGreaterThanOrEqual(exp * 1000 - 50);
      expect(at, 'at exp').toBeLessThan(exp * 1000 + EXP_SLACK_MS);
      const last = stream.events().at(-1);
      expect(last).toMatchObject({ event: 'error', data: '{"code":"token_expired"}' });
      await expectHttpError(fetch(`${server.url}/v1/events?topic=a`, { headers: bearer(sign({ sub: 'hal', exp })) }), 401, 'token_expired');
    },
  },

  {
    id: 'AUTH-009',
    level: 'MUST',
    section: '10',
    title: 'answer a long poll held past its token\'s exp at exp, and refuse the next one with 401 token_expired',
    run: async (ctx) => {
      if (!server) return ctx.skip('needs --cmd: this case starts a server with AUTH_JWT_SECRET');
      const exp = expIn(2);
      const headers = bearer(sign({ sub: 'ida', exp }));
      const topic = uniqueTopic('poll-exp');
      const res = await fetch(`${topicUrl(topic, server.url)}?wait=30`, { headers });
      const at = Date.now();
      expect(res.status).toBe(200);
      expect(PollResponse.parse(await res.json()).events).toEqual([]);
      expect(at, 'not before exp').toBeGreaterThanOrEqual(exp * 1000 - 50);
      expect(at, 'at exp, not after wait=30').toBeLessThan(exp * 1000 + EXP_SLACK_MS);
      await expectHttpError(fetch(`${topicUrl(topic, server.url)}?wait=30`, { headers }), 401, 'token_expired');
    },
  },

  {
    id: 'AUTH-010',
    level: 'MUST',
    section: '10',
    title: 'with AUTH_REQUIRE_EXP, refuse a token without exp on every transport with 401 token_exp_required',
    run: async (ctx) => {
      if (!hasCmd()) return ctx.skip('needs --cmd: this case starts a server with AUTH_REQUIRE_EXP');
      const strictUrl = (await strictServer()).url;
      const noExp = bearer(sign({ sub: 'jon' }));
      await expectHttpError(fetch(`${strictUrl}/v1/events?topic=a`, { headers: noExp }), 401, 'token_exp_required');
      await expectHttpError(fetch(`${topicUrl('a', strictUrl)}?wait=0`, { headers: noExp }), 401, 'token_exp_required');
      await expectHttpError(fetch(topicUrl('a', strictUrl), { method: 'POST', headers: noExp, body: '{"type":"t"}' }), 401, 'token_exp_required');
      const refused = await upgradeStatus(wsUrl(strictUrl), noExp);
      expect(refused.status).toBe(401);
      expect(ErrorBody.parse(JSON.parse(refused.body)).error.code).toBe('token_exp_required');
      const withExp = bearer(sign({ sub: 'jon', exp: expIn(60) }));
      const ok = await fetch(`${topicUrl('a', strictUrl)}?wait=0`, { headers: withExp });
      expect(ok.status).toBe(200);
      await ok.body?.cancel();
      const ws = await WsClient.connect(strictUrl, { headers: withExp });
      ws.send({ type: 'refresh', token: sign({ sub: 'jon' }), ref: 'no-exp' });
      expect(await ws.next('error', (f) => f.ref === 'no-exp')).toMatchObject({ code: 'token_exp_required' });
      await ws.close();
    },
  },

  {
    id: 'AUTH-011',
    level: 'MUST',
    section: '12',
    title: 'with METRICS_TOKEN, answer /metrics only with Authorization: Bearer <METRICS_TOKEN> (else 401), /healthz still open',
    run: async (ctx) => {
      if (!hasCmd()) return ctx.skip('needs --cmd: this case starts a server with METRICS_TOKEN');
      const strictUrl = (await strictServer()).url;
      const metrics = `${strictUrl}/metrics`;
      await expectHttpError(fetch(metrics), 401, 'unauthorized');
      for (const authorization of [`Bearer ${METRICS_TOKEN}x`, `Bearer ${METRICS_TOKEN.slice(0, -1)}`, METRICS_TOKEN, `Basic ${METRICS_TOKEN}`]) {
        await expectHttpError(fetch(metrics, { headers: { authorization } }), 401, 'unauthorized');
      }
      const ok = await fetch(metrics, { headers: bearer(METRICS_TOKEN) });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toMatch(/^relaykit_connections\{transport="ws"\} \d+$/m);
      expect((await fetch(`${strictUrl}/healthz`)).status).toBe(200);
    },
  },

  {
    id: 'AUTH-012',
    level: 'MUST',
    section: '10',
    title: 'with AUTH_JWKS_URL, accept ES256 and RS256 tokens signed by a key of the set (grants enforced) and refuse other keys',
    run: async (ctx) => {
      if (!server) return ctx.skip('needs --cmd: this case starts a server with AUTH_JWKS_URL');
      const topic = uniqueTopic('jwks');
      const es = signAsymmetric(keys.es256!, { sub: 'kim', exp: expIn(60), relaykit: { subscribe: [topic], publish: [topic] } });
      const ws = await WsClient.connect(server.url, { headers: bearer(es) });
      await ws.subscribe([topic]);
      ws.send({ type: 'subscribe', topics: [`${topic}.other`], ref: 'no' });
      expect(await ws.next('error', (f) => f.ref === 'no')).toMatchObject({ code: 'forbidden' });
      const rs = signAsymmetric(keys.rs256!, { sub: 'lee', exp: expIn(60) });
      const res = await fetch(topicUrl(topic, server.url), { method: 'POST', headers: bearer(rs), body: JSON.stringify({ type: 'via.rs256', data: 1 }) });
      expect(res.status).toBe(201);
      expect((await ws.waitEvents(1, topic))[0]!.type).toBe('via.rs256');
      const sse = await SseStream.open([topic], { base: server.url, query: { token: es } });
      await sse.close();
      const forged = signAsymmetric(keys.stranger!, { sub: 'kim', exp: expIn(60) });
      await expectHttpError(fetch(`${topicUrl(topic, server.url)}?wait=0`, { headers: bearer(forged) }), 401, 'unauthorized');
      expect((await upgradeStatus(wsUrl(server.url), bearer(forged))).status).toBe(401);
      await ws.close();
    },
  },

  {
    id: 'AUTH-013',
    level: 'MUST',
    section: '10',
    title: 'answer the history API only with a token (401) that grants subscribing to the topic (403)',
    run: async (ctx) => {
      if (!server) return ctx.skip('needs --cmd: this case starts a server with AUTH_JWT_SECRET');
      const topic = uniqueTopic('authhist');
      const token = sign({ sub: 'ann', relaykit: { subscribe: [topic], publish: [topic] } });
      const { status } = await fetch(topicUrl(topic, server.url), { method: 'POST', headers: bearer(token), body: '{"type":"t","data":1}' });
      expect(status).toBe(201);
      await expectHttpError(fetch(historyUrl(topic, {}, server.url)), 401, 'unauthorized');
      await expectHttpError(fetch(historyUrl(`${topic}x`, {}, server.url), { headers: bearer(token) }), 403, 'forbidden');
      const url = historyUrl(topic, {}, server.url);
      url.searchParams.set('token', token);
      const ok = await fetch(url);
      expect(ok.status).toBe(200);
      expect(((await ok.json()) as { events: { data: unknown }[] }).events.map((e) => e.data)).toEqual([1]);
    },
  },
]);

export default area;
