import { expect } from 'vitest';
import { Collector, SseStream, WsClient, baseUrl, hasCmd, metrics, ownServer, poll, publish, stopOwnServers, uniqueTopic } from '../harness/index.ts';
import { defineArea } from '../case.ts';

const area = defineArea('metrics');

area.afterAll(stopOwnServers);

/** A private server with --cmd, so that the gauges count only this case's clients; else the shared one. */
async function target(): Promise<{ url: string; stop: () => Promise<unknown> }> {
  if (!hasCmd()) return { url: baseUrl(), stop: async () => {} };
  const server = await ownServer();
  return { url: server.url, stop: () => server.stop() };
}

async function gaugeUntil(url: string, name: string, want: number): Promise<void> {
  const seen = new Collector<number>();
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = (await metrics(url)).get(name);
    seen.push(value ?? NaN);
    if (value === want) return;
    if (Date.now() > deadline) throw new Error(`${name} stayed at ${value}, expected ${want}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const conn = (t: string) => `relaykit_connections{transport="${t}"}`;

area.describe('metrics', [
  {
    id: 'MET-001',
    level: 'MUST',
    section: '12',
    title: 'count open connections per transport and return the gauges to their baseline after clients close',
    run: async () => {
      const server = await target();
      const before = await metrics(server.url);
      const base = { sse: before.get(conn('sse'))!, ws: before.get(conn('ws'))!, poll: before.get(conn('poll'))! };
      if (hasCmd()) expect(base).toEqual({ sse: 0, ws: 0, poll: 0 });
      const topic = uniqueTopic('gauge');
      const wss = await Promise.all([WsClient.connect(server.url), WsClient.connect(server.url)]);
      await Promise.all(wss.map((w) => w.subscribe([topic])));
      const sses = await Promise.all([SseStream.open([topic], { base: server.url }), SseStream.open([topic], { base: server.url })]);
      const abort = new AbortController();
      const pending = poll(topic, { wait: 30 }, server.url, abort.signal).catch(() => undefined);
      await gaugeUntil(server.url, conn('ws'), base.ws + 2);
      await gaugeUntil(server.url, conn('sse'), base.sse + 2);
      await gaugeUntil(server.url, conn('poll'), base.poll + 1);
      // One side closes cleanly, the other drops: both must be cleaned up.
      await wss[0]!.close();
      wss[1]!.ws.terminate();
      await Promise.all(sses.map((s) => s.close()));
      abort.abort();
      await pending;
      await gaugeUntil(server.url, conn('ws'), base.ws);
      await gaugeUntil(server.url, conn('sse'), base.sse);
      await gaugeUntil(server.url, conn('poll'), base.poll);
      if (hasCmd()) await gaugeUntil(server.url, 'relaykit_topics', 0);
      await server.stop();
    },
  },

  {
    id: 'MET-002',
    level: 'MUST',
    section: '12',
    title: 'count published events (duplicates excluded) and deliveries (one per subscriber)',
    run: async () => {
      const server = await target();
      const topic = uniqueTopic('count');
      const subs = await Promise.all([WsClient.connect(server.url), WsClient.connect(server.url)]);
      await Promise.all(subs.map((s) => s.subscribe([topic])));
      const sse = await SseStream.open([topic], { base: server.url });
      const before = await metrics(server.url);
      for (let i = 0; i < 3; i++) await publish(topic, 'm', i, `k${i}`, server.url);
      await publish(topic, 'm', 0, 'k0', server.url); // duplicate
      await Promise.all([...subs.map((s) => s.waitEvents(3)), sse.waitEnvelopes(3)]);
      const after = await metrics(server.url);
      const delta = (name: string) => after.get(name)! - before.get(name)!;
      if (hasCmd()) {
        expect(delta('relaykit_events_published_total')).toBe(3);
        expect(delta('relaykit_events_delivered_total')).toBe(9);
        expect(delta('relaykit_events_duplicate_total')).toBe(1);
      } else {
        // A shared remote server may see other traffic: at least ours.
        expect(delta('relaykit_events_published_total')).toBeGreaterThanOrEqual(3);
        expect(delta('relaykit_events_delivered_total')).toBeGreaterThanOrEqual(9);
      }
      await Promise.all([...subs.map((s) => s.close()), sse.close()]);
      await server.stop();
    },
  },
]);

export default area;
