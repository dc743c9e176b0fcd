import { connect } from 'node:net';
import { CloseCode, ErrorBody, RATE_LIMITED_REASON, RATE_LIMIT_STRIKES } from '@relaykit/contracts';
import { expect } from 'vitest';
import { type SpawnedServer, startProcess } from '../server.ts';
import {
  type Answer,
  WsClient,
  closeAgents,
  httpFrom,
  metrics,
  needsCmd,
  ownServer,
  publish,
  stopOwnServers,
  target,
  topicUrl,
  uniqueTopic,
  wsFrom,
} from '../harness/index.ts';
import type { CaseContext } from '../case.ts';
import { defineArea } from '../case.ts';

const area = defineArea('rate');

area.afterAll(async () => {
  closeAgents();
  await stopOwnServers();
});

/** The suite's own address, and other loopback addresses standing for other clients. */
const SELF = '127.0.0.1';
const BYSTANDER = '127.0.0.2';

/** Whether this machine can send from other loopback addresses (Linux can; macOS only has 127.0.0.1). */
let otherAddresses: Promise<boolean> | undefined;
function canUseOtherAddresses(server: SpawnedServer): Promise<boolean> {
  otherAddresses ??= new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port: server.port, localAddress: BYSTANDER });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
  return otherAddresses;
}
async function needsOtherAddresses(ctx: CaseContext, server: SpawnedServer): Promise<void> {
  if (!(await canUseOtherAddresses(server))) ctx.skip(`cannot send from ${BYSTANDER} on this machine`);
}

/** A refusal as PROTOCOL.md §9 and §11 state it: 429, Retry-After in whole seconds, JSON `rate_limited`. */
function expectRateLimited(answer: Answer, what: string): number {
  expect(answer.status, `${what}: ${answer.body}`).toBe(429);
  const retryAfter = String(answer.headers['retry-after'] ?? '');
  expect(retryAfter, `${what}: Retry-After in whole seconds`).toMatch(/^[1-9]\d*$/);
  expect(String(answer.headers['content-type'])).toMatch(/^application\/json/);
  expect(ErrorBody.parse(JSON.parse(answer.body)).error.code).toBe('rate_limited');
  return Number(retryAfter);
}

/** A token bucket's bounds: a fresh client gets its whole burst, and no more than the burst plus what refilled meanwhile. */
function expectWithinBucket(accepted: number, burst: number, rate: number, elapsedS: number, what: string): void {
  expect(accepted, `${what}: at least the burst`).toBeGreaterThanOrEqual(burst);
  expect(accepted, `${what}: at most burst + rate × ${elapsedS.toFixed(2)} s + 1`).toBeLessThanOrEqual(burst + rate * elapsedS + 1);
}

const seconds = (since: number) => (performance.now() - since) / 1000;
const publishBody = (n: number) => JSON.stringify({ type: 'burst', data: { n } });

/** `count` HTTP publishes sent at once from `from`; the answers and how long they took. */
async function httpBurst(server: SpawnedServer, from: string, topic: string, count: number, headers: (i: number) => Record<string, string> = () => ({})) {
  const started = performance.now();
  const answers = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      httpFrom(from, 'POST', topicUrl(topic, server.url), { headers: { 'content-type': 'application/json', ...headers(i) }, body: publishBody(i) }),
    ),
  );
  return { answers, elapsedS: seconds(started), accepted: answers.filter((a) => a.status === 201) };
}

/** A connection attempt of each kind from `from`: the answer, with a closer for an open stream or socket. */
async function attempt(kind: 'sse' | 'ws' | 'poll', server: SpawnedServer, from: string, topic: string, headers: Record<string, string> = {}): Promise<Answer & { close(): void }> {
  if (kind === 'sse') return httpFrom(from, 'GET', `${server.url}/v1/events?topic=${topic}`, { headers: { accept: 'text/event-stream', ...headers }, stream: true });
  if (kind === 'poll') return httpFrom(from, 'GET', `${topicUrl(topic, server.url)}?wait=0`, { headers });
  const result = await wsFrom(from, server.url, headers);
  if (result.ws) {
    const ws = result.ws;
    return { status: 101, headers: {}, body: '', close: () => ws.terminate() };
  }
  return { ...result, close() {} };
}

const BUCKET = { PUBLISH_RATE: '50', PUBLISH_BURST: '50' };

area.describe('rate limits', [
  {
    id: 'RATE-001',
    level: 'MUST',
    section: '11',
    title: 'limit HTTP publishes per client IP (PUBLISH_RATE=50, PUBLISH_BURST=50): of 300 at once, the burst plus the refill are accepted, the rest get 429 rate_limited with Retry-After; another IP is unaffected',
    run: async (ctx) => {
      needsCmd(ctx);
      const server = await ownServer(BUCKET);
      const topic = uniqueTopic('httprate');
      const { answers, elapsedS, accepted } = await httpBurst(server, SELF, topic, 300);
      expectWithinBucket(accepted.length, 50, 50, elapsedS, 'HTTP publishes accepted');
      const refused = answers.filter((a) => a.status !== 201);
      expect(refused.length).toBe(300 - accepted.length);
      let wait = 0;
      for (const answer of refused) wait = Math.max(wait, expectRateLimited(answer, 'a publish over the limit'));
      expect((await metrics(server.url)).get('relaykit_rate_limited_total')).toBe(refused.length);
      // What Retry-After says is enough: after it, the same client is admitted again.
      await new Promise((resolve) => setTimeout(resolve, wait * 1000));
      expect((await httpFrom(SELF, 'POST', topicUrl(topic, server.url), { body: publishBody(-1) })).status).toBe(201);
      await needsOtherAddresses(ctx, server);
      const other = await httpBurst(server, BYSTANDER, topic, 50);
      expect(other.accepted.length, 'another client IP has a bucket of its own').toBe(50);
    },
    timeoutMs: 60_000,
  },

  {
    id: 'RATE-002',
    level: 'MUST',
    section: '11',
    title: 'limit publishes per WebSocket (PUBLISH_RATE=50, PUBLISH_BURST=50): of 300 frames at once, the burst plus the refill are acked, refusals are rate_limited error frames echoing ref, and the RATE_LIMIT_STRIKES-th closes with 4029',
    run: async (ctx) => {
      needsCmd(ctx);
      const server = await ownServer(BUCKET);
      const topic = uniqueTopic('wsrate');
      const subscriber = await WsClient.connect(server.url);
      await subscriber.subscribe([topic]);
      const publisher = await WsClient.connect(server.url);
      const started = performance.now();
      for (let ref = 1; ref <= 300; ref++) publisher.send({ type: 'publish', topic, event: { type: 'burst', data: { ref } }, ref });
      const closed = await publisher.closed;
      const elapsedS = seconds(started);
      expect(closed).toEqual({ code: CloseCode.rateLimited, reason: RATE_LIMITED_REASON });
      const acks = publisher.all('ack');
      const errors = publisher.all('error');
      expectWithinBucket(acks.length, 50, 50, elapsedS, 'WebSocket publishes acked');
      // Every refusal is answered, with its ref, until the strikes close the connection.
      expect(errors.length).toBe(RATE_LIMIT_STRIKES);
      for (const error of errors) expect(error).toMatchObject({ code: 'rate_limited', ref: expect.any(Number) });
      const acked = new Set(acks.map((a) => a.ref));
      for (const error of errors) expect(acked.has(error.ref!), `ref ${error.ref} both acked and refused`).toBe(false);
      // Exactly the acked publishes were delivered: none lost, none extra.
      const delivered = await subscriber.waitEvents(acks.length, topic);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(subscriber.events(topic).map((e) => e.id).sort()).toEqual(acks.map((a) => a.id).sort());
      expect(delivered.length).toBe(acks.length);
      // The bucket is the connection's: another one from the same address publishes at once.
      const fresh = await WsClient.connect(server.url);
      await fresh.publish(topic, 'after', 1);
      await Promise.all([fresh.close(), subscriber.close()]);
    },
    timeoutMs: 60_000,
  },

  {
    id: 'RATE-003',
    level: 'MUST',
    section: '11',
    title: 'limit new SSE streams, WebSocket upgrades and polls together per client IP (CONNECT_RATE, CONNECT_BURST) with 429 rate_limited and Retry-After; another IP is unaffected',
    run: async (ctx) => {
      needsCmd(ctx);
      const server = await ownServer({ CONNECT_RATE: '1', CONNECT_BURST: '4' });
      await needsOtherAddresses(ctx, server);
      const topic = uniqueTopic('connrate');
      const from = '127.0.0.3';
      const open: Array<() => void> = [];
      let accepted = 0;
      const refusedBy = { sse: 0, ws: 0, poll: 0 };
      const started = performance.now();
      for (const kind of ['sse', 'ws', 'poll'] as const) {
        for (let i = 0; i < 6; i++) {
          const answer = await attempt(kind, server, from, topic);
          open.push(answer.close);
          if (answer.status === 429) {
            expectRateLimited(answer, `a ${kind} attempt over the limit`);
            refusedBy[kind]++;
          } else {
            expect(answer.status, `${kind}: ${answer.body}`).toBe(kind === 'ws' ? 101 : 200);
            accepted++;
          }
        }
      }
      // One bucket for all three: 18 attempts admit the burst of 4 and what refilled, whatever the transport.
      expectWithinBucket(accepted, 4, 1, seconds(started), 'connections admitted');
      expect(refusedBy.sse, 'SSE streams refused').toBeGreaterThan(0);
      expect(refusedBy.ws + refusedBy.poll, 'WebSocket upgrades and polls refused').toBeGreaterThan(1);
      // Another client IP is unaffected: each kind at once.
      for (const kind of ['sse', 'ws', 'poll'] as const) {
        const answer = await attempt(kind, server, BYSTANDER, topic);
        open.push(answer.close);
        expect(answer.status, `${kind} from ${BYSTANDER}: ${answer.body}`).toBe(kind === 'ws' ? 101 : 200);
      }
      for (const close of open) close();
    },
    timeoutMs: 60_000,
  },

  {
    id: 'RATE-004',
    level: 'MUST',
    section: '11',
    title: 'limit subscribe frames per WebSocket (SUBSCRIBE_RATE): a loop of subscribe-with-lastEventId and unsubscribe replays only what the limit admits, then closes with 4029',
    run: async (ctx) => {
      needsCmd(ctx);
      const server = await ownServer({ SUBSCRIBE_RATE: '5', HISTORY_SIZE: '20' });
      const topic = uniqueTopic('subrate');
      const ws = await WsClient.connect(server.url);
      const start = ws.welcome.position;
      for (let i = 0; i < 10; i++) await publish(topic, 'old', i, undefined, server.url);
      const started = performance.now();
      // As fast as the server answers: resume the whole history, drop it, again.
      for (let i = 0; ws.isOpen && i < 200; i++) {
        ws.send({ type: 'subscribe', topics: [topic], lastEventId: start, ref: `s${i}` });
        await ws.frames.until(() => !ws.isOpen || ws.frames.items.some((f) => (f.type === 'subscribed' || f.type === 'error') && f.ref === `s${i}`), `an answer to s${i}`);
        if (ws.all('subscribed').some((f) => f.ref === `s${i}`)) {
          ws.send({ type: 'unsubscribe', topics: [topic], ref: `u${i}` });
          await ws.next('unsubscribed', (f) => f.ref === `u${i}`);
        }
      }
      const closed = await ws.closed;
      const elapsedS = seconds(started);
      expect(closed).toEqual({ code: CloseCode.rateLimited, reason: RATE_LIMITED_REASON });
      const subscribed = ws.all('subscribed').length;
      expectWithinBucket(subscribed, 5, 5, elapsedS, 'subscribes admitted');
      const errors = ws.all('error');
      expect(errors.length).toBe(RATE_LIMIT_STRIKES);
      // Only subscribes are limited: every refusal is of one, with its ref.
      for (const error of errors) expect(error).toMatchObject({ code: 'rate_limited', ref: expect.stringMatching(/^s\d+$/) });
      expect(ws.events(topic).length, 'replayed events').toBeLessThanOrEqual(subscribed * 10);
    },
    timeoutMs: 60_000,
  },

  {
    id: 'RATE-005',
    level: 'MUST',
    section: '13',
    title: 'turn each limit off with a rate of 0 (PUBLISH_RATE, CONNECT_RATE, SUBSCRIBE_RATE), whatever the burst',
    run: async (ctx) => {
      needsCmd(ctx);
      const server = await ownServer({ PUBLISH_RATE: '0', PUBLISH_BURST: '1', CONNECT_RATE: '0', CONNECT_BURST: '1', SUBSCRIBE_RATE: '0' });
      const topic = uniqueTopic('off');
      const http = await httpBurst(server, SELF, topic, 300);
      expect(http.accepted.length, 'HTTP publishes').toBe(300);
      const ws = await WsClient.connect(server.url);
      for (let ref = 1; ref <= 300; ref++) ws.send({ type: 'publish', topic, event: { type: 'burst', data: null }, ref });
      for (let i = 0; i < 30; i++) ws.send({ type: 'subscribe', topics: [`${topic}.${i % 4}`], ref: `s${i}` });
      await ws.frames.until(() => ws.all('ack').length === 300 && ws.all('subscribed').length === 30, '300 acks and 30 subscribed', 30_000);
      expect(ws.all('error')).toEqual([]);
      const open: Array<() => void> = [];
      for (const kind of ['sse', 'ws', 'poll', 'sse', 'ws', 'poll'] as const) {
        const answer = await attempt(kind, server, SELF, topic);
        open.push(answer.close);
        expect(answer.status, `${kind}: ${answer.body}`).toBe(kind === 'ws' ? 101 : 200);
      }
      for (const close of open) close();
      expect((await metrics(server.url)).get('relaykit_rate_limited_total')).toBe(0);
      await ws.close();
    },
    timeoutMs: 60_000,
  },

  {
    id: 'RATE-006',
    level: 'MUST',
    section: '13',
    title: 'count a client behind a TRUSTED_PROXIES peer by the right-most untrusted X-Forwarded-For address (IPv4, IPv6 by /64), for publishes and upgrades',
    run: async (ctx) => {
      needsCmd(ctx);
      const server = await ownServer({ PUBLISH_RATE: '1', PUBLISH_BURST: '3', CONNECT_RATE: '1', CONNECT_BURST: '2', TRUSTED_PROXIES: '127.0.0.1, 10.0.0.0/8, ::1' });
      const topic = uniqueTopic('proxied');
      const via = (xff: string) => () => ({ 'x-forwarded-for': xff });
      const startedA = performance.now();
      const clientA = await httpBurst(server, SELF, topic, 6, via('203.0.113.7'));
      expectWithinBucket(clientA.accepted.length, 3, 1, clientA.elapsedS, 'client 203.0.113.7');
      // A forged entry to the left of what the proxy appended changes nothing; a trusted hop after it is skipped.
      const forged = await httpBurst(server, SELF, topic, 3, (i) => ({ 'x-forwarded-for': i === 2 ? '203.0.113.7, 10.1.2.3' : `198.51.100.${i}, 203.0.113.7` }));
      expect(forged.accepted.length + clientA.accepted.length, 'forged and chained entries count as 203.0.113.7').toBeLessThanOrEqual(3 + seconds(startedA) + 1);
      for (const answer of forged.answers.filter((a) => a.status !== 201)) expectRateLimited(answer, 'client 203.0.113.7 again');
      const clientB = await httpBurst(server, SELF, topic, 3, via('203.0.113.8'));
      expect(clientB.accepted.length, 'client 203.0.113.8 has its own bucket').toBe(3);
      const v6 = await httpBurst(server, SELF, topic, 6, (i) => ({ 'x-forwarded-for': `2001:db8:1:1::${i + 1}` }));
      expectWithinBucket(v6.accepted.length, 3, 1, v6.elapsedS, 'one IPv6 /64');
      const v6other = await httpBurst(server, SELF, topic, 3, via('2001:db8:1:2::1'));
      expect(v6other.accepted.length, 'another /64').toBe(3);
      const proxyItself = await httpBurst(server, SELF, topic, 3);
      expect(proxyItself.accepted.length, 'the proxy without X-Forwarded-For is a client of its own').toBe(3);
      // WebSocket upgrades are keyed the same way (CONNECT_RATE=1, CONNECT_BURST=2).
      const upgrades = [];
      const startedUpgrades = performance.now();
      for (let i = 0; i < 6; i++) upgrades.push(await attempt('ws', server, SELF, topic, { 'x-forwarded-for': '203.0.113.20' }));
      const admitted = upgrades.filter((u) => u.status === 101).length;
      expectWithinBucket(admitted, 2, 1, seconds(startedUpgrades), 'upgrades of 203.0.113.20');
      for (const upgrade of upgrades.filter((u) => u.status !== 101)) expectRateLimited(upgrade, 'an upgrade of 203.0.113.20');
      const other = await attempt('ws', server, SELF, topic, { 'x-forwarded-for': '203.0.113.21' });
      expect(other.status, 'an upgrade of 203.0.113.21').toBe(101);
      for (const upgrade of [...upgrades, other]) upgrade.close();
    },
    timeoutMs: 60_000,
  },

  {
    id: 'RATE-007',
    level: 'MUST',
    section: '13',
    title: 'ignore X-Forwarded-For from a peer not in TRUSTED_PROXIES: rotating it does not escape the limit',
    run: async (ctx) => {
      needsCmd(ctx);
      for (const trusted of ['', '10.0.0.0/8']) {
        const server = await ownServer({ PUBLISH_RATE: '1', PUBLISH_BURST: '3', TRUSTED_PROXIES: trusted });
        const topic = uniqueTopic('untrusted');
        const burst = await httpBurst(server, SELF, topic, 10, (i) => ({ 'x-forwarded-for': `203.0.113.${i + 1}` }));
        expectWithinBucket(burst.accepted.length, 3, 1, burst.elapsedS, `TRUSTED_PROXIES=${JSON.stringify(trusted)}`);
        for (const answer of burst.answers.filter((a) => a.status !== 201)) expectRateLimited(answer, 'a rotated X-Forwarded-For');
        await server.stop();
      }
    },
    timeoutMs: 60_000,
  },

  {
    id: 'RATE-008',
    level: 'MUST',
    section: '13',
    title: 'refuse to start with an invalid rate-limit setting, naming it (a negative rate, a burst of 0, a TRUSTED_PROXIES entry that is no address)',
    run: async (ctx) => {
      needsCmd(ctx);
      for (const [name, value] of [
        ['PUBLISH_RATE', '-1'],
        ['CONNECT_BURST', '0'],
        ['TRUSTED_PROXIES', '127.0.0.1,proxy.internal'],
        ['TRUSTED_PROXIES', '10.0.0.0/33'],
      ] as const) {
        const proc = startProcess({ command: target().cmd, cwd: target().cwd, env: { [name]: value } });
        const timer = setTimeout(() => proc.child.kill('SIGKILL'), 20_000);
        const status = await proc.exited;
        clearTimeout(timer);
        expect(status.code, `exit status for ${name}=${value}: ${proc.output()}`).toBe(2);
        expect(proc.output()).toContain(name);
        expect(proc.output()).not.toMatch(/listening on/);
      }
    },
    timeoutMs: 60_000,
  },
]);

export default area;
