import { createHmac } from 'node:crypto';
import { ErrorBody } from '@relaykit/contracts';
import { expect } from 'vitest';
import { type SpawnedServer } from '../server.ts';
import { SseStream, WsClient, expectHttpError, hasCmd, ownServer, stopOwnServers, topicUrl, upgradeStatus, wsUrl } from '../harness/index.ts';
import { defineArea } from '../case.ts';

const area = defineArea('auth');

const SECRET = 'conformance-secret-of-at-least-32-characters';

const b64url = (value: string | Buffer) => Buffer.from(value).toString('base64url');
/** An HS256 JWT, signed here with node:crypto (no library shared with the servers). */
function sign(payload: Record<string, unknown>, secret = SECRET): string {
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify({ iat: Math.floor(Date.now() / 1000), ...payload }));
  const mac = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${mac}`;
}

let server: SpawnedServer | undefined;
area.beforeAll(async () => {
  if (hasCmd()) server = await ownServer({ AUTH_JWT_SECRET: SECRET });
});
area.afterAll(stopOwnServers);


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
      for (const token of [sign({ sub: 'x' }, 'another-secret-of-at-least-32-characters!'), sign({ sub: 'x', exp: 1 }), 'not.a.jwt']) {
        const headers = { authorization: `Bearer ${token}` };
        await expectHttpError(fetch(`${topicUrl('a', server.url)}?wait=0`, { headers }), 401, 'unauthorized');
        expect((await upgradeStatus(wsUrl(server.url), headers)).status).toBe(401);
      }
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
]);

export default area;
