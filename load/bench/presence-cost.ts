/**
 * What a presence change costs the server per watcher it reaches, next to what an event costs per
 * subscriber it reaches (issue 12's target: "join/leave to 1,000 watching subscribers costs no
 * more per delivery than an event").
 *
 *   node load/bench/presence-cost.ts [--runtimes node,bun,deno] [--watchers 1000] [--churn 200] [--events 200] [--rounds 3]
 *
 * Per runtime, one server; `watchers` WebSockets hold one topic. Three phases, each measured as the
 * server's CPU (utime+stime from /proc) per frame the watchers received:
 *   events:   `events` publishes to the topic (one event frame per watcher each);
 *   churn-off: `churn` other connections subscribe to the topic and close again, the watchers not
 *              asking for presence (what the churn itself costs);
 *   churn-on:  the same churn, the watchers subscribed with `presence: true`: every join and leave
 *              reaches every watcher (each connection stays past the 250 ms coalescing interval).
 * Presence per delivery = (churn-on CPU − churn-off CPU) / presence frames received. Medians of
 * `rounds`, each on a fresh topic. Loopback only; bounded by counts; stops by itself.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { spawnServer } from '@relaykit/conformance/server';
import { cpuMs } from '../runner/proc.ts';
import { median, round } from '../runner/stats.ts';
import { BIN, ROOT, freePort, runtimeVersions } from '../runner/targets.ts';

type Runtime = 'node' | 'bun' | 'deno';
const ARGS: Record<Runtime, string[]> = {
  node: ['src/main.ts'],
  bun: ['src/main.ts'],
  deno: ['run', '--allow-net', '--allow-env', 'src/main.ts'],
};

const { values: opts } = parseArgs({
  options: {
    runtimes: { type: 'string', default: 'node,bun,deno' },
    watchers: { type: 'string', default: '1000' },
    churn: { type: 'string', default: '200' },
    events: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '3' },
  },
});
const WATCHERS = Number(opts.watchers);
const CHURN = Number(opts.churn);
const EVENTS = Number(opts.events);
const ROUNDS = Number(opts.rounds);

interface Client {
  ws: WebSocket;
  frames: Map<string, number>;
}

async function connect(url: string, topic: string, presence: boolean): Promise<Client> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  const frames = new Map<string, number>();
  await new Promise<void>((resolve, reject) => {
    ws.on('message', (data) => {
      const type = (JSON.parse(data.toString()) as { type: string }).type;
      frames.set(type, (frames.get(type) ?? 0) + 1);
      if (type === 'welcome') ws.send(JSON.stringify({ type: 'subscribe', topics: [topic], ...(presence ? { presence: true } : {}), ref: 1 }));
      if (type === 'subscribed') resolve();
    });
    ws.on('error', reject);
  });
  return { ws, frames };
}

const count = (clients: Client[], type: string) => clients.reduce((n, c) => n + (c.frames.get(type) ?? 0), 0);

async function until(check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await sleep(20);
}

/** `CHURN` connections that take the topic and leave it, in waves of 50 that each outlive the coalescing interval. */
async function churn(url: string, topic: string): Promise<void> {
  for (let done = 0; done < CHURN; done += 50) {
    const wave = await Promise.all(Array.from({ length: Math.min(50, CHURN - done) }, () => connect(url, topic, false)));
    await sleep(400);
    for (const c of wave) c.ws.close();
    await sleep(400);
  }
}

async function measure(runtime: Runtime): Promise<Record<string, number>> {
  const port = await freePort();
  const server = await spawnServer({
    command: [BIN[runtime], ...ARGS[runtime]],
    cwd: join(ROOT, "apps", runtime),
    port,
    env: { HOST: '127.0.0.1', LOG_LEVEL: 'error', PUBLISH_RATE: '0', CONNECT_RATE: '0', SUBSCRIBE_RATE: '0', PRESENCE_MAX_MEMBERS: String(WATCHERS + CHURN + 10) },
    label: `relaykit-${runtime}`,
  });
  const url = `ws://127.0.0.1:${port}/v1/ws`;
  const base = `http://127.0.0.1:${port}`;
  const rounds: Record<string, number>[] = [];
  try {
    for (let round_ = 0; round_ < ROUNDS; round_++) {
      const phase = async (presence: boolean) => {
        const topic = `presence-cost-${round_}-${presence ? 'on' : 'off'}`;
        const watchers: Client[] = [];
        for (let i = 0; i < WATCHERS; i += 100) watchers.push(...(await Promise.all(Array.from({ length: Math.min(100, WATCHERS - i) }, () => connect(url, topic, presence)))));
        // Until the watchers' joins have been told to one another: that delivery is not the events'.
        for (let heard = -1; heard !== count(watchers, 'presence'); ) {
          heard = count(watchers, 'presence');
          await sleep(600);
        }
        const pid = server.pid;
        let cpu0 = cpuMs(pid);
        for (let i = 0; i < EVENTS; i++) {
          await fetch(`${base}/v1/topics/${topic}/events`, { method: 'POST', body: JSON.stringify({ type: 'tick', data: { i } }) });
        }
        await until(() => count(watchers, 'event') >= EVENTS * WATCHERS, 30_000);
        const eventCpu = cpuMs(pid) - cpu0;
        const events = count(watchers, 'event');
        // The watchers heard each other join while they connected: only the churn's frames count.
        const heardBefore = count(watchers, 'presence');
        cpu0 = cpuMs(pid);
        await churn(url, topic);
        await until(() => !presence || count(watchers, 'presence') - heardBefore >= 2 * CHURN * WATCHERS, 30_000);
        await sleep(400);
        const churnCpu = cpuMs(pid) - cpu0;
        const presenceFrames = count(watchers, 'presence') - heardBefore;
        for (const w of watchers) w.ws.close();
        await sleep(500);
        return { eventCpu, events, churnCpu, presenceFrames };
      };
      const off = await phase(false);
      const on = await phase(true);
      rounds.push({
        usPerEvent: (off.eventCpu * 1000) / Math.max(1, off.events),
        usPerEventWatching: (on.eventCpu * 1000) / Math.max(1, on.events),
        usPerPresence: ((on.churnCpu - off.churnCpu) * 1000) / Math.max(1, on.presenceFrames),
        presenceFrames: on.presenceFrames,
        expectedPresence: 2 * CHURN * WATCHERS,
        churnOffMs: off.churnCpu,
        churnOnMs: on.churnCpu,
      });
    }
  } finally {
    await server.stop();
  }
  const out: Record<string, number> = {};
  for (const key of Object.keys(rounds[0]!)) out[key] = round(median(rounds.map((r) => r[key]!)), 3);
  return out;
}

const versions = runtimeVersions();
for (const runtime of opts.runtimes.split(',') as Runtime[]) {
  const m = await measure(runtime);
  console.log(
    `${runtime} (${versions[runtime]!.version}): ${WATCHERS} watchers, median of ${ROUNDS}: ` +
      `${m.usPerEvent} µs per delivered event (${m.usPerEventWatching} to presence watchers), ${m.usPerPresence} µs per delivered join/leave ` +
      `(${m.presenceFrames}/${m.expectedPresence} presence frames; churn CPU ${m.churnOffMs} ms without presence, ${m.churnOnMs} ms with) → ` +
      `ratio ${round(m.usPerPresence! / m.usPerEvent!, 2)}`,
  );
}
