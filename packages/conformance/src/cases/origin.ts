import { ErrorBody } from '@relaykit/contracts';
import { expect } from 'vitest';
import { type SpawnedServer } from '../server.ts';
import { expectHttpError, hasCmd, ownServer, signHs256, stopOwnServers, topicUrl, uniqueTopic, upgradeStatus, wsUrl } from '../harness/index.ts';
import { defineArea } from '../case.ts';

const area = defineArea('origin');

const SECRET = 'conformance-secret-of-at-least-32-characters';
const LISTED = 'https://app.example';
const FOREIGN = 'http://evil.example';

/** ALLOWED_ORIGINS set (in a spelling the server must normalise), no auth. */
let listed: SpawnedServer | undefined;
/** ALLOWED_ORIGINS unset (public), auth on: the cookie rules alone. */
let cookieServer: SpawnedServer | undefined;
area.beforeAll(async () => {
  if (!hasCmd()) return;
  [listed, cookieServer] = await Promise.all([
    ownServer({ ALLOWED_ORIGINS: ' https://App.example:443 , http://localhost:3000' }),
    ownServer({ AUTH_JWT_SECRET: SECRET }),
  ]);
});
area.afterAll(() => stopOwnServers());

const NEEDS_CMD = 'needs --cmd: this case starts a server with its own ALLOWED_ORIGINS or auth';
const cookie = (token: string) => `relaykit_token=${token}`;

async function expectUpgradeRefused(url: string, headers: Record<string, string>, status: number, code: string): Promise<void> {
  const refused = await upgradeStatus(url, headers);
  expect(refused.status).toBe(status);
  expect(ErrorBody.parse(JSON.parse(refused.body)).error.code).toBe(code);
}

/** An SSE GET's status and CORS headers; the stream is dropped at once. */
async function sseHead(url: string, headers: Record<string, string>): Promise<Response> {
  const res = await fetch(url, { headers });
  await res.body?.cancel();
  return res;
}

/** A form-style publish: text/plain is a CORS simple request, sent by a page without a preflight. */
const formPost = (url: string, headers: Record<string, string>) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'text/plain', ...headers }, body: JSON.stringify({ type: 't', data: 1 }) });

area.describe('origins (ALLOWED_ORIGINS set)', [
  {
    id: 'ORIGIN-001',
    level: 'MUST',
    section: '10',
    title: 'refuse a foreign Origin with 403 origin_not_allowed on SSE, long polling, publish and the WebSocket upgrade (before 101)',
    run: async (ctx) => {
      if (!listed) return ctx.skip(NEEDS_CMD);
      const origin = { origin: FOREIGN };
      const topic = uniqueTopic('origin');
      await expectHttpError(fetch(`${listed.url}/v1/events?topic=${topic}`, { headers: origin }), 403, 'origin_not_allowed');
      await expectHttpError(fetch(`${topicUrl(topic, listed.url)}?wait=0`, { headers: origin }), 403, 'origin_not_allowed');
      await expectHttpError(formPost(topicUrl(topic, listed.url), origin), 403, 'origin_not_allowed');
      // A sandboxed page or file:// sends the opaque origin "null": never listed.
      await expectHttpError(formPost(topicUrl(topic, listed.url), { origin: 'null' }), 403, 'origin_not_allowed');
      await expectUpgradeRefused(wsUrl(listed.url), origin, 403, 'origin_not_allowed');
      // Refused means not published: a listed reader sees nothing.
      const seen = await (await fetch(`${topicUrl(topic, listed.url)}?wait=0`)).json();
      expect(seen.events).toEqual([]);
    },
  },

  {
    id: 'ORIGIN-002',
    level: 'MUST',
    section: '10',
    title: 'answer a CORS preflight from a foreign Origin with 403 origin_not_allowed and no origin grant',
    run: async (ctx) => {
      if (!listed) return ctx.skip(NEEDS_CMD);
      const res = await fetch(topicUrl('a', listed.url), {
        method: 'OPTIONS',
        headers: { origin: FOREIGN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
      });
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
      expect(res.headers.get('vary') ?? '').toMatch(/\borigin\b/i);
      await expectHttpError(res, 403, 'origin_not_allowed');
    },
  },

  {
    id: 'ORIGIN-003',
    level: 'MUST',
    section: '10',
    title: 'grant a listed Origin by name with Vary: Origin on preflights, publish, long polling and SSE, and upgrade its WebSocket',
    run: async (ctx) => {
      if (!listed) return ctx.skip(NEEDS_CMD);
      const topic = uniqueTopic('origin');
      const granted = (res: Response) => {
        expect(res.headers.get('access-control-allow-origin')).toBe(LISTED);
        expect(res.headers.get('vary') ?? '').toMatch(/\borigin\b/i);
      };
      const preflight = await fetch(topicUrl(topic, listed.url), {
        method: 'OPTIONS',
        headers: { origin: LISTED, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
      });
      expect(preflight.status).toBe(204);
      granted(preflight);
      const published = await fetch(topicUrl(topic, listed.url), {
        method: 'POST',
        headers: { origin: LISTED, 'content-type': 'application/json' },
        body: JSON.stringify({ type: 't', data: 1 }),
      });
      expect(published.status).toBe(201);
      granted(published);
      const polled = await fetch(`${topicUrl(topic, listed.url)}?wait=0`, { headers: { origin: LISTED } });
      expect(polled.status).toBe(200);
      granted(polled);
      const stream = await sseHead(`${listed.url}/v1/events?topic=${topic}`, { origin: LISTED });
      expect(stream.status).toBe(200);
      granted(stream);
      // A refused stream is read by the same page: its error carries the grant too.
      const badStream = await fetch(`${listed.url}/v1/events`, { headers: { origin: LISTED } });
      granted(badStream);
      await expectHttpError(badStream, 400, 'bad_request');
      expect((await upgradeStatus(wsUrl(listed.url), { origin: LISTED })).status).toBe(101);
      // The second listed origin, written with its port.
      expect((await upgradeStatus(wsUrl(listed.url), { origin: 'http://localhost:3000' })).status).toBe(101);
    },
  },

  {
    id: 'ORIGIN-004',
    level: 'MUST',
    section: '10',
    title: 'serve requests without an Origin and same-origin requests on every transport, without a foreign grant',
    run: async (ctx) => {
      if (!listed) return ctx.skip(NEEDS_CMD);
      const topic = uniqueTopic('origin');
      // The server's own origin: the scheme it is reached by and the Host header it receives.
      const requests: Record<string, string>[] = [{}, { origin: listed.url }];
      for (const headers of requests) {
        expect((await formPost(topicUrl(topic, listed.url), headers)).status).toBe(201);
        const polled = await fetch(`${topicUrl(topic, listed.url)}?wait=0`, { headers });
        expect(polled.status).toBe(200);
        expect(polled.headers.get('access-control-allow-origin')).toBeNull();
        expect((await sseHead(`${listed.url}/v1/events?topic=${topic}`, headers)).status).toBe(200);
        expect((await upgradeStatus(wsUrl(listed.url), headers)).status).toBe(101);
      }
    },
  },
]);

area.describe('token cookie (ALLOWED_ORIGINS unset, auth on)', [
  {
    id: 'ORIGIN-005',
    level: 'MUST',
    section: '10',
    title: 'ignore the relaykit_token cookie from a foreign Origin (401 on WebSocket, SSE, long polling and a text/plain publish) but take its header or query token',
    run: async (ctx) => {
      if (!cookieServer) return ctx.skip(NEEDS_CMD);
      const token = signHs256({ sub: 'victim' }, SECRET);
      const riding = { origin: FOREIGN, cookie: cookie(token) };
      const topic = uniqueTopic('origin');
      await expectUpgradeRefused(wsUrl(cookieServer.url), riding, 401, 'unauthorized');
      await expectHttpError(formPost(topicUrl(topic, cookieServer.url), riding), 401, 'unauthorized');
      await expectHttpError(fetch(`${cookieServer.url}/v1/events?topic=${topic}`, { headers: riding }), 401, 'unauthorized');
      await expectHttpError(fetch(`${topicUrl(topic, cookieServer.url)}?wait=0`, { headers: riding }), 401, 'unauthorized');
      // A page sends a header or query token only deliberately: those count from any origin, and the server stays public.
      const viaHeader = await formPost(topicUrl(topic, cookieServer.url), { origin: FOREIGN, authorization: `Bearer ${token}` });
      expect(viaHeader.status).toBe(201);
      expect(viaHeader.headers.get('access-control-allow-origin')).toBe('*');
      expect((await upgradeStatus(`${wsUrl(cookieServer.url)}?token=${token}`, { origin: FOREIGN })).status).toBe(101);
      expect((await sseHead(`${cookieServer.url}/v1/events?topic=${topic}&token=${token}`, { origin: FOREIGN })).status).toBe(200);
    },
  },

  {
    id: 'ORIGIN-006',
    level: 'MUST',
    section: '10',
    title: 'honour the relaykit_token cookie from the same origin and without an Origin',
    run: async (ctx) => {
      if (!cookieServer) return ctx.skip(NEEDS_CMD);
      const token = signHs256({ sub: 'alice' }, SECRET);
      const topic = uniqueTopic('origin');
      const requests: Record<string, string>[] = [{ origin: cookieServer.url, cookie: cookie(token) }, { cookie: cookie(token) }];
      for (const headers of requests) {
        expect((await upgradeStatus(wsUrl(cookieServer.url), headers)).status).toBe(101);
        expect((await formPost(topicUrl(topic, cookieServer.url), headers)).status).toBe(201);
        expect((await sseHead(`${cookieServer.url}/v1/events?topic=${topic}`, headers)).status).toBe(200);
        expect((await fetch(`${topicUrl(topic, cookieServer.url)}?wait=0`, { headers })).status).toBe(200);
      }
    },
  },
]);

export default area;
