// Run by redis-broker.test.ts under Bun and Deno (and Node): proves the module loads and works on
// each runtime. Publishes through RedisBroker, receives it live, replays it; prints one JSON line.
import { RedisBroker } from '../src/redis-broker.ts';

const url = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env.REDIS_URL;
const topic = `rt-${Math.random().toString(36).slice(2)}`;
const broker = new RedisBroker({ url: url!, historySize: 10, pingIntervalMs: 200 });
await broker.connect();
const live: string[] = [];
broker.setListener((event) => live.push(event.envelope.id));
await broker.watch(topic);
const ids: string[] = [];
for (let i = 0; i < 3; i++) ids.push((await broker.publish(topic, { type: 't', data: { i } })).envelope.id);
const deadline = Date.now() + 5_000;
while (live.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
const replay = await broker.replay([topic], `${ids[0]!.split('-')[0]}-0`);
await broker.close();
console.log(JSON.stringify({ ids, live, replayed: replay.events.map((e) => e.envelope.id), reset: replay.resetTopics }));
