import { expect } from 'vitest';
import { CloseCode, HEARTBEAT_TIMEOUT_REASON } from '@relaykit/contracts';
import WebSocket from 'ws';
import { startProcess } from '../server.ts';
import { SseStream, WsClient, needsCmd, ownServer, publish, stopOwnServers, target, uniqueTopic, wsUrl } from '../harness/index.ts';
import { defineArea } from '../case.ts';

const area = defineArea('lifecycle');

area.afterAll(stopOwnServers);

const STACK_LINE = /^\s+at .+(:\d+:\d+\)?|\(native\))$/m;

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
      const lively = await WsClient.connect(server.url);
      expect(silent.welcome.heartbeatMs).toBe(heartbeatMs);
      const pings = { count: 0 };
      silent.ws.on('ping', () => pings.count++);
      const start = Date.now();
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
]);

export default area;
