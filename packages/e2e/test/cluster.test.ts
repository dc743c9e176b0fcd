/**
 * One broker across runtimes: a Node, a Bun and a Deno instance on one Redis (started here on a
 * loopback port) behave as one server. Raw WebSocket and SSE clients, so what is proven is the
 * protocol, not the client SDK's recovery.
 */
import type { SpawnedServer } from '@relaykit/conformance/server';
import { createParser } from 'eventsource-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type RedisProcess, startInstance as start, startRedis } from './cluster.ts';
import { RUNTIMES, type Runtime, until } from './servers.ts';

interface Envelope {
  id: string;
  topic: string;
  type: string;
  data: unknown;
}

let redis: RedisProcess;
const prefix = `cluster${process.pid}:`;
const servers = new Map<Runtime, SpawnedServer>();

async function startInstance(runtime: Runtime): Promise<SpawnedServer> {
  const server = await start(runtime, redis.url, prefix, { HISTORY_SIZE: '100' });
  servers.set(runtime, server);
  return server;
}

beforeAll(async () => {
  redis = await startRedis();
  await Promise.all(RUNTIMES.map(startInstance));
}, 60_000);

afterAll(async () => {
  await Promise.all([...servers.values()].map((s) => s.stop()));
  redis?.stop();
});

class WsSubscriber {
  readonly events: Envelope[] = [];
  private constructor(readonly ws: WebSocket) {}
  static async open(base: string, topics: string[], lastEventId?: string): Promise<WsSubscriber> {
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/v1/ws`, { perMessageDeflate: false });
    const sub = new WsSubscriber(ws);
    await new Promise<void>((resolve, reject) => {
      ws.on('message', (data) => {
        const frame = JSON.parse(data.toString()) as { type: string; event?: Envelope };
        if (frame.type === 'welcome') ws.send(JSON.stringify({ type: 'subscribe', topics, ref: 's', ...(lastEventId ? { lastEventId } : {}) }));
        if (frame.type === 'subscribed') resolve();
        if (frame.type === 'event') sub.events.push(frame.event!);
      });
      ws.on('error', reject);
    });
    return sub;
  }
  close() {
    this.ws.close();
  }
}

class SseSubscriber {
  readonly events: Envelope[] = [];
  lastId: string | undefined;
  private constructor(private readonly abort: AbortController) {}
  static async open(base: string, topic: string, lastEventId?: string): Promise<SseSubscriber> {
    const abort = new AbortController();
    const response = await fetch(`${base}/v1/events?topic=${topic}`, {
      headers: lastEventId ? { 'last-event-id': lastEventId } : {},
      signal: abort.signal,
    });
    expect(response.status).toBe(200);
    const sub = new SseSubscriber(abort);
    let opened!: () => void;
    const open = new Promise<void>((resolve) => (opened = resolve));
    const parser = createParser({
      // A fresh stream is subscribed once it announces its position (the opening comment comes
      // before the join: an event published then would be missed); a resume replays what it missed.
      onComment: () => lastEventId && opened(),
      onId: () => opened(),
      onEvent: (message) => {
        if (message.id) sub.lastId = message.id;
        if (message.data && message.event !== 'reset') sub.events.push(JSON.parse(message.data) as Envelope);
      },
    });
    void (async () => {
      const decoder = new TextDecoder();
      try {
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) parser.feed(decoder.decode(chunk, { stream: true }));
      } catch {
        // aborted, or the server went away
      }
    })();
    await open;
    return sub;
  }
  close() {
    this.abort.abort();
  }
}

const topicName = (label: string) => `cluster.${label}.${Math.random().toString(36).slice(2, 8)}`;

async function post(base: string, topic: string, data: unknown, key?: string): Promise<{ status: number; id: string; duplicate: boolean }> {
  const response = await fetch(`${base}/v1/topics/${topic}/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'c', data, ...(key ? { key } : {}) }),
  });
  const body = (await response.json()) as { id: string; duplicate: boolean };
  return { status: response.status, ...body };
}

describe('a cluster of Node, Bun and Deno on one Redis', () => {
  it('delivers a publish made on any instance to every transport on every instance, with one id and one order', async () => {
    const topic = topicName('all');
    const ws = await Promise.all(RUNTIMES.map((rt) => WsSubscriber.open(servers.get(rt)!.url, [topic])));
    const sse = await Promise.all(RUNTIMES.map((rt) => SseSubscriber.open(servers.get(rt)!.url, topic)));
    const ids: string[] = [];
    for (let i = 0; i < 9; i++) ids.push((await post(servers.get(RUNTIMES[i % 3]!)!.url, topic, i)).id);
    for (const sub of [...ws, ...sse]) await until(`9 events on every subscriber`, () => sub.events.length >= 9);
    for (const sub of [...ws, ...sse]) expect(sub.events.map((e) => e.id)).toEqual(ids);
    expect(new Set(ids).size).toBe(9);
    for (const sub of [...ws, ...sse]) sub.close();
  });

  it('resumes on Deno, after Bun was killed with SIGKILL, with exactly the events missed', async () => {
    const topic = topicName('failover');
    const node = servers.get('node')!.url;
    const onBun = await SseSubscriber.open(servers.get('bun')!.url, topic);
    for (let i = 0; i < 3; i++) await post(node, topic, i);
    await until('3 events on Bun', () => onBun.events.length >= 3);
    servers.get('bun')!.signal('SIGKILL');
    await servers.get('bun')!.exited;
    const missed = [];
    for (let i = 3; i < 6; i++) missed.push((await post(node, topic, i)).id);
    const onDeno = await SseSubscriber.open(servers.get('deno')!.url, topic, onBun.lastId);
    await until('the 3 missed events on Deno', () => onDeno.events.length >= 3);
    expect(onDeno.events.map((e) => e.id)).toEqual(missed);
    const live = (await post(node, topic, 6)).id;
    await until('the live event on Deno', () => onDeno.events.length >= 4);
    expect(onDeno.events.map((e) => e.id)).toEqual([...missed, live]);
    onDeno.close();
    onBun.close();
    await startInstance('bun');
  }, 60_000);

  it('shares presence: members on every instance listed by each, joins and leaves reach watchers everywhere, a SIGKILLed instance\'s members leave within 3 × HEARTBEAT_MS', async () => {
    const topic = topicName('presence');
    const connect = async (rt: Runtime, presence: boolean) => {
      const ws = new WebSocket(`${servers.get(rt)!.url.replace(/^http/, 'ws')}/v1/ws`, { perMessageDeflate: false });
      const seen: string[] = [];
      let id = '';
      await new Promise<void>((resolve, reject) => {
        ws.on('message', (data) => {
          const frame = JSON.parse(data.toString()) as { type: string; connectionId?: string; action?: string; member?: { connectionId: string } };
          if (frame.type === 'welcome') {
            id = frame.connectionId!;
            ws.send(JSON.stringify({ type: 'subscribe', topics: [topic], presence, ref: 's' }));
          }
          if (frame.type === 'subscribed') resolve();
          if (frame.type === 'presence') seen.push(`${frame.action} ${frame.member!.connectionId}`);
        });
        ws.on('error', reject);
      });
      return { rt, ws, id, seen };
    };
    const list = async (rt: Runtime) => {
      const answer = (await (await fetch(`${servers.get(rt)!.url}/v1/topics/${topic}/presence`)).json()) as { members: { connectionId: string }[] };
      return answer.members.map((m) => m.connectionId).sort();
    };
    // Watchers first (joins are not replayed), then one member per instance.
    type Connected = Awaited<ReturnType<typeof connect>>;
    const watchers: Connected[] = [];
    for (const rt of RUNTIMES) watchers.push(await connect(rt, true));
    const members: Connected[] = [];
    for (const rt of RUNTIMES) members.push(await connect(rt, false));
    const all = [...watchers, ...members].map((c) => c.id).sort();
    for (const rt of RUNTIMES) await until(`${rt} lists all six`, async () => JSON.stringify(await list(rt)) === JSON.stringify(all));
    for (const w of watchers) {
      await until(`${w.rt} hears the three members join`, () => members.every((m) => w.seen.includes(`join ${m.id}`)));
    }
    const onBun = [...watchers, ...members].filter((c) => c.rt === 'bun');
    const killedAt = Date.now();
    servers.get('bun')!.signal('SIGKILL');
    await servers.get('bun')!.exited;
    for (const w of watchers.filter((x) => x.rt !== 'bun')) {
      await until(`${w.rt} hears the killed instance's members leave`, () => onBun.every((c) => w.seen.includes(`leave ${c.id}`)), 6_000);
    }
    expect(Date.now() - killedAt, 'within 3 × HEARTBEAT_MS (1000 ms) and the coalescing interval').toBeLessThan(3_000 + 500);
    expect(await list('node')).toEqual(all.filter((id) => !onBun.some((c) => c.id === id)));
    for (const c of [...watchers, ...members]) c.ws.close();
    await startInstance('bun');
  }, 60_000);

  it('answers a keyed publish retried on another instance as a duplicate, delivered once', async () => {
    const topic = topicName('key');
    const sub = await WsSubscriber.open(servers.get('deno')!.url, [topic]);
    const first = await post(servers.get('node')!.url, topic, 'once', 'retry-1');
    const again = await post(servers.get('bun')!.url, topic, 'once', 'retry-1');
    expect(first).toMatchObject({ status: 201, duplicate: false });
    expect(again).toEqual({ status: 200, id: first.id, duplicate: true });
    const after = await post(servers.get('deno')!.url, topic, 'after');
    await until('two events', () => sub.events.length >= 2);
    expect(sub.events.map((e) => e.id)).toEqual([first.id, after.id]);
    sub.close();
  });

  it('resumes a WebSocket on another runtime from an id issued by the first, and a restarted instance keeps ids valid', async () => {
    const topic = topicName('restart');
    const node = servers.get('node')!;
    const ids = [];
    for (let i = 0; i < 4; i++) ids.push((await post(node.url, topic, i)).id);
    await node.stop();
    const restarted = await startInstance('node');
    const sub = await WsSubscriber.open(restarted.url, [topic], ids[1]);
    await until('the 2 events after the id', () => sub.events.length >= 2);
    expect(sub.events.map((e) => e.id)).toEqual(ids.slice(2));
    sub.close();
  }, 60_000);
});
