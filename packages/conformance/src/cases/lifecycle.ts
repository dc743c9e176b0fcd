import { expect } from 'vitest';
import { CloseCode, ErrorBody, HEARTBEAT_TIMEOUT_REASON, HealthResponse, PollResponse, SHUTDOWN_REASON, SseEndData } from '@relaykit/contracts';
import WebSocket from 'ws';
import { startProcess } from '../server.ts';
import {
  RawSocket,
  SseStream,
  WsClient,
  expectHttpError,
  metrics,
  needsCmd,
  ownServer,
  publish,
  requestHead,
  stopOwnServers,
  target,
  topicUrl,
  upgradeStatus,
  uniqueTopic,
  validated,
  wsUrl,
} from '../harness/index.ts';
import type { SpawnedServer } from '../server.ts';
import { defineArea } from '../case.ts';

const area = defineArea('lifecycle');

area.afterAll(stopOwnServers);

const STACK_LINE = /^\s+at .+(:\d+:\d+\)?|\(native\))$/m;

/** The server's exit status, or a failure naming what it printed if it has not exited within `ms`. */
function exitWithin(server: SpawnedServer, ms: number) {
  return Promise.race([
    server.exited,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no exit within ${ms} ms:\n${server.output()}`)), ms)),
  ]);
}

/**
 * A publish whose body is still arriving: a request in flight, which a shutdown's drain waits for
 * (PROTOCOL.md 12). `finish` sends the rest and returns the answer.
 */
async function heldPublish(server: SpawnedServer, topic: string) {
  const body = '{"type":"held.publish","data":"the rest of this body comes later"}';
  const raw = await RawSocket.connect(server.url);
  await raw.write(requestHead('POST', `/v1/topics/${topic}/events`, { 'Content-Type': 'application/json', 'Content-Length': body.length, Connection: 'close' }));
  await raw.write(body.slice(0, 10));
  return {
    raw,
    async finish() {
      await raw.write(body.slice(10));
      const response = await raw.response();
      raw.destroy();
      return response;
    },
  };
}

area.describe('lifecycle', [
  {
    id: 'LIFE-001',
    level: 'MUST',
    section: '12',
    title: 'on SIGTERM close WebSockets with 1001, end SSE streams and exit 0',
    run: async (ctx) => {
      needsCmd(ctx);
      const server = await ownServer({ SHUTDOWN_GRACE_MS: '3000' });
      const topic = uniqueTopic('bye');
      const ws = await WsClient.connect(server.url);
      await ws.subscribe([topic]);
      const sse = await SseStream.open([topic], { base: server.url });
      await publish(topic, 'last', 1, undefined, server.url);
      await Promise.all([ws.waitEvents(1), sse.waitEnvelopes(1)]);
      const signalled = Date.now();
      server.signal('SIGTERM');
      const closed = await ws.closed;
      expect(closed.code).toBe(1001);
      await sse.done;
      expect(sse.ended).toBe(true);
      const status = await Promise.race([
        server.exited,
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no exit within 15 s:\n${server.output()}`)), 15_000)),
      ]);
      expect(status, server.output()).toEqual({ code: 0, signal: null });
      // Within SHUTDOWN_GRACE_MS (3 s), with wide slack for a loaded machine.
      expect(Date.now() - signalled).toBeLessThan(3000 + 8000);
      expect(server.output()).not.toMatch(STACK_LINE);
    },
    timeoutMs: 30_000,
  },

  {
    id: 'LIFE-002',
    level: 'MUST',
    section: '13',
    title: 'exit non-zero on invalid config, naming the variable, without a stack trace',
    run: async (ctx) => {
      needsCmd(ctx);
      for (const [name, value] of [
        ['HEARTBEAT_MS', 'abc'],
        ['MAX_MESSAGE_BYTES', '1'],
        ['PORT', '70000'],
      ] as const) {
        const proc = startProcess({ command: target().cmd, cwd: target().cwd, env: { [name]: value } });
        const timer = setTimeout(() => proc.child.kill('SIGKILL'), 20_000);
        const status = await proc.exited;
        clearTimeout(timer);
        const output = proc.output();
        expect(status.code, `exit status for ${name}=${value}: ${output}`).not.toBe(0);
        expect(status.signal, `killed instead of exiting for ${name}=${value}: ${output}`).toBeNull();
        expect(output).toContain(name);
        expect(output).not.toMatch(STACK_LINE);
        expect(output).not.toMatch(/listening on/);
      }
    },
    timeoutMs: 60_000,
  },

  {
    id: 'LIFE-003',
    level: 'MUST',
    section: '8',
    title: 'terminate a WebSocket peer that stops answering pings within a few HEARTBEAT_MS',
    run: async (ctx) => {
      needsCmd(ctx);
      const heartbeatMs = 300;
      const server = await ownServer({ HEARTBEAT_MS: String(heartbeatMs) });
      const silent = await WsClient.connect(server.url, { autoPong: false });
      // Counted from the start: on a loaded machine the next connect may take longer than a ping interval.
      const pings = { count: 0 };
      silent.ws.on('ping', () => pings.count++);
      const start = Date.now();
      const lively = await WsClient.connect(server.url);
      expect(silent.welcome.heartbeatMs).toBe(heartbeatMs);
      const closed = await Promise.race([
        silent.closed,
        new Promise<null>((resolve) => setTimeout(() => resolve(null), 20 * heartbeatMs + 5000)),
      ]);
      expect(closed, 'the silent peer was dropped').not.toBeNull();
      const elapsed = Date.now() - start;
      // 2 intervals by design; generous slack for a loaded machine, but not "never".
      expect(elapsed).toBeLessThan(heartbeatMs * 4 + 3000);
      expect(pings.count, 'the server pinged before giving up').toBeGreaterThanOrEqual(1);
      // A peer that answers pings stays through the same time.
      expect(lively.isOpen).toBe(true);
      await lively.ping();
      const m = await fetch(`${server.url}/metrics`).then((r) => r.text());
      expect(m).toMatch(/^relaykit_heartbeat_timeouts_total 1$/m);
      await lively.close();
      await server.stop();
    },
    timeoutMs: 40_000,
  },

  {
    id: 'LIFE-006',
    level: 'MUST',
    section: '8',
    title: 'close a silent WebSocket peer with 1001 and the heartbeat reason, not the shutdown one',
    run: async (ctx) => {
      needsCmd(ctx);
      const server = await ownServer({ HEARTBEAT_MS: '300' });
      const silent = await WsClient.connect(server.url, { autoPong: false });
      const closed = await Promise.race([silent.closed, new Promise<null>((resolve) => setTimeout(() => resolve(null), 15_000))]);
      expect(closed, 'the silent peer was dropped').not.toBeNull();
      // PROTOCOL.md 9: the same code on every runtime (Deno's idleTimeout sends exactly this), and a
      // reason that tells a heartbeat timeout from a shutdown; either way the client reconnects.
      expect({ code: closed!.code, reason: closed!.reason }).toEqual({
        code: CloseCode.heartbeatTimeout,
        reason: HEARTBEAT_TIMEOUT_REASON,
      });
      await server.stop();
    },
    timeoutMs: 30_000,
  },

  {
    id: 'LIFE-004',
    level: 'MUST',
    section: '8',
    title: 'keep an idle WebSocket that answers pings open across many HEARTBEAT_MS',
    run: async (ctx) => {
      needsCmd(ctx);
      const heartbeatMs = 200;
      const server = await ownServer({ HEARTBEAT_MS: String(heartbeatMs) });
      const client = await WsClient.connect(server.url);
      let pings = 0;
      client.ws.on('ping', () => pings++);
      await new Promise((resolve) => setTimeout(resolve, heartbeatMs * 8));
      expect(client.isOpen).toBe(true);
      expect(pings).toBeGreaterThanOrEqual(2);
      await client.ping();
      await client.close();
      await server.stop();
    },
    timeoutMs: 30_000,
  },

  {
    id: 'LIFE-005',
    level: 'MUST',
    section: '13',
    title: 'print the listening line with the runtime name, and serve /healthz with that name',
    run: async (ctx) => {
      needsCmd(ctx);
      const server = await ownServer();
      const body = (await (await fetch(`${server.url}/healthz`)).json()) as { server: string };
      expect(body.server).toBe(server.name);
      const ws = new WebSocket(wsUrl(server.url));
      await new Promise((resolve) => ws.once('open', resolve));
      ws.terminate();
      await server.stop();
    },
  },

  {
    id: 'LIFE-007',
    level: 'MUST',
    section: '13',
    title: 'print the listening line at every LOG_LEVEL, error included (tools wait for it)',
    run: async (ctx) => {
      needsCmd(ctx);
      // ownServer waits for the line: a server that hid it behind LOG_LEVEL would never be up.
      const server = await ownServer({ LOG_LEVEL: 'error' });
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      await server.stop();
    },
  },
  {
    id: 'LIFE-008',
    level: 'MUST',
    section: '12',
    title: 'drain on SIGTERM with the listener open: /healthz 503 draining, new streams, sockets, polls and publishes 503 shutting_down, exit 0 once the last request ends',
    run: async (ctx) => {
      needsCmd(ctx);
      const graceMs = 30_000;
      const server = await ownServer({ SHUTDOWN_GRACE_MS: String(graceMs) });
      const topic = uniqueTopic('drain');
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      const held = await heldPublish(server, topic);
      // Signal only once the server serves it (this /metrics request is the other one in flight).
      for (const start = Date.now(); ((await metrics(server.url)).get('relaykit_requests_in_flight') ?? 0) < 2; ) {
        if (Date.now() - start > 10_000) throw new Error('the held publish never reached the server');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      server.signal('SIGTERM');
      // The signal is handled asynchronously: /healthz turns to draining, and stays reachable.
      let health: Response | undefined;
      for (const start = Date.now(); Date.now() - start < 10_000; ) {
        health = await fetch(`${server.url}/healthz`);
        if (health.status === 503) break;
        await health.text();
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(health?.status, 'GET /healthz during the drain').toBe(503);
      expect(validated(HealthResponse, await health!.json())).toMatchObject({ status: 'draining', server: server.name });
      // On a new connection too: the listener is open through the drain.
      const fresh = await RawSocket.connect(server.url);
      await fresh.write(requestHead('GET', '/healthz', { Connection: 'close' }));
      const freshHealth = await fresh.response();
      fresh.destroy();
      expect(freshHealth?.status, 'GET /healthz on a new connection during the drain').toBe(503);
      expect(validated(HealthResponse, JSON.parse(freshHealth!.body.toString())).status).toBe('draining');
      await expectHttpError(fetch(`${server.url}/v1/events?topic=${topic}`), 503, 'shutting_down');
      await expectHttpError(fetch(`${topicUrl(topic, server.url)}?wait=5`), 503, 'shutting_down');
      await expectHttpError(
        fetch(topicUrl(topic, server.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"type":"late"}' }),
        503,
        'shutting_down',
      );
      const ws = await upgradeStatus(wsUrl(server.url));
      expect(ws.status).toBe(503);
      expect(ErrorBody.parse(JSON.parse(ws.body)).error.code).toBe('shutting_down');
      // Still draining a second later: the held request keeps it going, well within the grace period.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect((await fetch(`${server.url}/healthz`)).status).toBe(503);
      expect(server.child.exitCode).toBeNull();
      // The held publish ends (refused: the server is stopping), and with it the drain.
      const ended = Date.now();
      const answer = await held.finish();
      expect(answer?.status).toBe(503);
      expect(ErrorBody.parse(JSON.parse(answer!.body.toString())).error.code).toBe('shutting_down');
      expect(await exitWithin(server, 15_000)).toEqual({ code: 0, signal: null });
      // Once idle it exits at once, not at SHUTDOWN_GRACE_MS (30 s), with slack for a loaded machine.
      expect(Date.now() - ended).toBeLessThan(10_000);
      expect(server.output()).not.toMatch(STACK_LINE);
    },
    timeoutMs: 60_000,
  },

  {
    id: 'LIFE-009',
    level: 'MUST',
    section: '6',
    title: 'answer a held long poll at once on SIGTERM: 200, a valid page and a cursor that loses nothing',
    run: async (ctx) => {
      needsCmd(ctx);
      const server = await ownServer({ SHUTDOWN_GRACE_MS: '20000' });
      const topic = uniqueTopic('pollbye');
      const { body: first } = await publish(topic, 'before', 1, undefined, server.url);
      const held = fetch(`${topicUrl(topic, server.url)}?after=${first.id}&wait=30`);
      const gauge = async () => (await metrics(server.url)).get('relaykit_connections{transport="poll"}') ?? 0;
      for (const start = Date.now(); (await gauge()) < 1; ) {
        if (Date.now() - start > 10_000) throw new Error('the long poll was never held');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const signalled = Date.now();
      server.signal('SIGTERM');
      const response = await held.catch((error: unknown) => {
        throw new Error(`the held poll got no answer (${String(error)}); the server printed:\n${server.output()}`);
      });
      expect(Date.now() - signalled, 'answered at once, not after wait=30').toBeLessThan(10_000);
      expect(response.status).toBe(200);
      const page = validated(PollResponse, await response.json());
      expect(page).toEqual({ events: [], cursor: first.id });
      expect(await exitWithin(server, 15_000)).toEqual({ code: 0, signal: null });
    },
    timeoutMs: 60_000,
  },

  {
    id: 'LIFE-010',
    level: 'MUST',
    section: '3',
    title: 'end an SSE stream on SIGTERM with a last retry: hint and event: error {"code":"shutting_down"}, and close WebSockets with 1001 and the shutdown reason',
    run: async (ctx) => {
      needsCmd(ctx);
      const server = await ownServer({ SHUTDOWN_GRACE_MS: '5000', SSE_RETRY_MS: '1234' });
      const topic = uniqueTopic('ssebye');
      const sse = await SseStream.open([topic], { base: server.url });
      const ws = await WsClient.connect(server.url);
      await publish(topic, 'last', 1, undefined, server.url);
      await sse.waitEnvelopes(1);
      const before = sse.items.items.length;
      server.signal('SIGTERM');
      await sse.done;
      // What came after the last event (keepalive comments aside): the retry hint, the error event, the end.
      expect(sse.items.items.slice(before).filter((item) => item.kind !== 'comment')).toEqual([
        { kind: 'retry', ms: 1234 },
        { kind: 'event', id: undefined, event: 'error', data: JSON.stringify({ code: 'shutting_down' }) },
      ]);
      expect(SseEndData.parse(JSON.parse(sse.events().at(-1)!.data))).toEqual({ code: 'shutting_down' });
      expect(await ws.closed).toEqual({ code: CloseCode.goingAway, reason: SHUTDOWN_REASON });
      expect(await exitWithin(server, 15_000)).toEqual({ code: 0, signal: null });
    },
    timeoutMs: 40_000,
  },

  {
    id: 'LIFE-011',
    level: 'SHOULD',
    section: '13',
    title: 'warn once at start about a variable that looks like a misspelled relaykit name, naming the intended one',
    run: async (ctx) => {
      needsCmd(ctx);
      const server = await ownServer({ HISTROY_SIZE: '3', REDIS_ULR: 'redis://127.0.0.1:1', MY_APP_SETTING: '1' });
      const lines = server.output().split('\n');
      for (const [typo, intended] of [
        ['HISTROY_SIZE', 'HISTORY_SIZE'],
        ['REDIS_ULR', 'REDIS_URL'],
      ]) {
        const naming = lines.filter((line) => line.includes(typo!));
        expect(naming, `lines naming ${typo}:\n${server.output()}`).toHaveLength(1);
        expect(naming[0]).toContain(intended);
      }
      expect(server.output()).not.toContain('MY_APP_SETTING');
      // Only a warning: the server runs with its defaults.
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      await server.stop();
    },
  },
]);

export default area;
