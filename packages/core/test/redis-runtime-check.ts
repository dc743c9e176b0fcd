// Run by redis-broker.test.ts under Bun and Deno (and Node): proves the module loads and works on
// each runtime. Publishes through RedisBroker, receives it live, replays it; prints one JSON line.
// The Redis is REDIS_URL, or REDIS_SENTINELS + REDIS_SENTINEL_MASTER, read as the servers read them.
import { parseConfig } from '@relaykit/contracts';
import { RedisBroker } from '../src/redis-broker.ts';

const parsed = parseConfig((globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {});
if (!parsed.ok || !parsed.config.redis) throw new Error(parsed.ok ? 'no Redis configured' : parsed.message);
const topic = `rt-${Math.random().toString(36).slice(2)}`;
const broker = new RedisBroker({ ...parsed.config.redis, historySize: 10, pingIntervalMs: 200 });
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
