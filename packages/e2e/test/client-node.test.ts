/**
 * @relaykit/client from Node against the Node, Bun and Deno servers, on every transport:
 * delivery, publish acks and errors, idempotent keys, resume across cut connections, silence
 * detection, automatic fallback past a buffering, upgrade-blocking proxy, and the reset signal
 * after a restart.
 */
import { type RelayClient, RelayKitError, type ResetNotice, type StateChange, createClient } from '@relaykit/client';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { TestProxy } from './proxy.ts';
import { RUNTIMES, type Runtime, type RunningServer, publish, sleep, startServer, until } from './servers.ts';

const TRANSPORTS = ['sse', 'ws', 'poll'] as const;
type Kind = (typeof TRANSPORTS)[number];

interface Probe {
  client: RelayClient;
  ids: (topic: string) => string[];
  states: StateChange[];
  resets: ResetNotice[];
}

function probe(url: string, transport: Kind | 'auto', topics: string[], extra: Parameters<typeof createClient>[0] = {}): Probe {
  const client = createClient({ url, transport, topics, backoff: { baseMs: 100 }, pollWaitS: 5, ...extra });
  const events: { id: string; topic: string }[] = [];
  const states: StateChange[] = [];
  const resets: ResetNotice[] = [];
  client.on('event', (event) => events.push(event));
  client.on('state', (state) => states.push(state));
  client.on('reset', (reset) => resets.push(reset));
  return { client, ids: (topic) => events.filter((e) => e.topic === topic).map((e) => e.id), states, resets };
}

const opened = (p: Probe) => until(`${p.client.transport} open`, () => p.client.state === 'open');

describe.each(RUNTIMES)('client from Node against %s', (runtime: Runtime) => {
  let server: RunningServer;
  let proxy: TestProxy;
  let base: string;
  const clients: RelayClient[] = [];
  const track = (p: Probe) => (clients.push(p.client), p);

  beforeAll(async () => {
    server = await startServer(runtime, { HEARTBEAT_MS: '500' });
    proxy = new TestProxy(server.port);
    base = await proxy.listen();
  });
  afterEach(() => {
    for (const client of clients.splice(0)) client.close();
    proxy.frozen = proxy.bufferSse = proxy.blockUpgrades = false;
  });
  afterAll(async () => {
    await proxy?.close();
    await server?.stop();
  });

  test.each(TRANSPORTS)('%s: receives, publishes with acks, rejects with the server error, dedupes by key', async (kind) => {
    const topic = `basic-${kind}`;
    const p = track(probe(server.url, kind, [topic]));
    await opened(p);
    const id = await p.client.publish(topic, 'greeting', { text: 'hi' });
    expect(typeof id).toBe('string');
    const again = await p.client.publish(topic, 'greeting', { n: 1 }, { key: `k-${kind}` });
    expect(await p.client.publish(topic, 'greeting', { n: 1 }, { key: `k-${kind}` })).toBe(again);
    const external = await publish(server.url, topic, 'external', { n: 2 });
    await until('three events', () => p.ids(topic).length === 3);
    expect(p.ids(topic)).toEqual([id, again, external]);
    const error = await p.client.publish(topic, 'reset', null).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RelayKitError);
    expect((error as RelayKitError).code).toBe('invalid_event_type');
    // unsubscribe stops delivery; a new topic starts live
    p.client.unsubscribe(topic);
    p.client.subscribe(`${topic}-2`);
    await sleep(300);
    await opened(p);
    const later = await publish(server.url, `${topic}-2`, 'x', null);
    await publish(server.url, topic, 'x', null);
    await until('event on the new topic', () => p.ids(`${topic}-2`).includes(later));
    expect(p.ids(topic)).toHaveLength(3);
  });

  test.each(TRANSPORTS)('%s: history() pages back, and connect() from its position goes live with nothing missed or twice', async (kind) => {
    const topic = `history-${kind}`;
    const older: string[] = [];
    for (let i = 0; i < 5; i++) older.push(await publish(server.url, topic, 'old', { i }));
    const p = track(probe(server.url, kind, [topic], { autoConnect: false }));
    const page = await p.client.history(topic, { limit: 3 });
    expect(page.events.map((e) => e.id)).toEqual(older.slice(2));
    expect(page.events.map((e) => e.data)).toEqual([{ i: 2 }, { i: 3 }, { i: 4 }]);
    expect(page.reset).toBeUndefined();
    const back = await p.client.history(topic, { before: page.events[0]!.id });
    expect(back.events.map((e) => e.id)).toEqual(older.slice(0, 2));
    // Published between the read and the connection: delivered by the resume from the position.
    const between = await publish(server.url, topic, 'between', null);
    p.client.connect({ lastEventId: page.position });
    await opened(p);
    const live = await publish(server.url, topic, 'live', null);
    await until('the events after the page', () => p.ids(topic).length >= 2);
    await sleep(200);
    expect(p.ids(topic)).toEqual([between, live]);
    expect(p.resets).toEqual([]);
    const refused = await p.client.history('bad topic').catch((e: unknown) => e);
    expect((refused as RelayKitError).code).toBe('invalid_topic');
  });

  test.each(['sse', 'ws'] as const)('%s: presence() lists members, and presence: true delivers joins and leaves of others', async (kind) => {
    const topic = `presence-${kind}`;
    const watcher = track(probe(server.url, kind, [topic], { presence: true }));
    const changes: string[] = [];
    watcher.client.on('presence', (c) => changes.push(`${c.action} ${c.member.transport}`));
    await opened(watcher);
    const other = track(probe(server.url, 'ws', [topic]));
    await opened(other);
    await until('the join', () => changes.includes('join ws'));
    const state = await watcher.client.presence(topic);
    expect(state.count).toBe(2);
    expect(state.members.map((m) => m.transport).sort()).toEqual([kind, 'ws'].sort());
    other.client.close();
    await until('the leave', () => changes.includes('leave ws'));
    expect(changes).toEqual(['join ws', 'leave ws']);
  });

  test.each(TRANSPORTS)('%s: a cut connection resumes with nothing lost and nothing twice', async (kind) => {
    const topic = `cut-${kind}`;
    const p = track(probe(base, kind, [topic]));
    await opened(p);
    const published: string[] = [];
    for (let i = 0; i < 24; i++) {
      published.push(await publish(server.url, topic, 'tick', { i }));
      if (i === 5 || i === 14) proxy.cut();
      await sleep(25);
    }
    await until('all events', () => p.ids(topic).length >= published.length, 20_000);
    await sleep(200);
    expect(p.ids(topic)).toEqual(published);
    // (Node's fetch may retry a long poll on a fresh socket by itself, so the drop can go unseen.)
    if (kind !== 'poll') expect(p.states.filter((s) => s.state === 'reconnecting').length).toBeGreaterThanOrEqual(1);
  });

  test.each(['sse', 'ws'] as const)('%s: a connection silent past 2x the heartbeat is replaced', async (kind) => {
    const topic = `silent-${kind}`;
    const p = track(probe(base, kind, [topic], { heartbeatMs: 500 }));
    await opened(p);
    const first = await publish(server.url, topic, 'before', null);
    await until('first event', () => p.ids(topic).includes(first));
    proxy.frozen = true;
    const frozenAt = Date.now();
    const missed = await publish(server.url, topic, 'while-frozen', null);
    await until('silence noticed', () => p.states.some((s) => s.state === 'reconnecting' && /silent/.test(s.reason ?? '')), 5_000);
    expect(Date.now() - frozenAt).toBeLessThan(4_000);
    proxy.frozen = false;
    proxy.cut();
    await until('the event sent while frozen', () => p.ids(topic).includes(missed), 10_000);
    expect(p.ids(topic)).toEqual([first, missed]);
  });

  test('auto: a buffering proxy and blocked upgrades fall back to long polling, saying why', async () => {
    proxy.bufferSse = true;
    proxy.blockUpgrades = true;
    const p = track(probe(base, 'auto', ['fallback'], { openTimeoutMs: 1_000 }));
    const changes: string[] = [];
    p.client.on('transport', (change) => changes.push(`${change.transport}: ${change.reason}`));
    await until('open on poll', () => p.client.state === 'open' && p.client.transport === 'poll', 10_000);
    expect(changes).toHaveLength(2);
    expect(changes[0]).toMatch(/^ws: sse failed before opening \(no opening comment/);
    expect(changes[1]).toMatch(/^poll: ws failed before opening/);
    expect(p.client.transportReason).toMatch(/falling back to poll/);
    const id = await p.client.publish('fallback', 'x', 1);
    await until('event over poll', () => p.ids('fallback').includes(id));
  });

  test('a restarted server: every transport reports that it cannot resume, then carries on', async () => {
    const probes = TRANSPORTS.map((kind) => track(probe(base, kind, ['restart'])));
    for (const p of probes) await opened(p);
    await publish(server.url, 'restart', 'before', null);
    for (const p of probes) await until('event before the restart', () => p.ids('restart').length === 1);
    await server.stop();
    proxy.cut();
    server = await startServer(runtime, { HEARTBEAT_MS: '500' });
    proxy.upstreamPort = server.port;
    for (const p of probes) {
      await until(`${p.client.transport} reset`, () => p.resets.length > 0, 15_000);
      expect(p.resets[0]).toMatchObject({ code: 'history_unavailable', topics: ['restart'] });
      await opened(p);
    }
    const after = await publish(server.url, 'restart', 'after', null);
    for (const p of probes) await until('event after the restart', () => p.ids('restart').includes(after));
  });
});
