/**
 * A CPU profile of a Node or Deno server over the measured requests only, through the inspector
 * (Deno 2.9 has no --cpu-prof): Profiler.start over the Chrome DevTools Protocol, Profiler.stop to
 * a .cpuprofile that load/report/profile-top.ts summarises.
 */
import { writeFileSync } from 'node:fs';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function startProfile(inspectPort: number, file: string): Promise<() => Promise<void>> {
  let url: string | undefined;
  for (let tries = 0; !url && tries < 50; tries++) {
    try {
      const list = (await (await fetch(`http://127.0.0.1:${inspectPort}/json/list`)).json()) as Array<{ webSocketDebuggerUrl?: string }>;
      url = list[0]?.webSocketDebuggerUrl;
    } catch {
      await sleep(200);
    }
  }
  if (!url) throw new Error(`no inspector on port ${inspectPort}`);
  const ws = new WebSocket(url);
  await new Promise((r) => ws.addEventListener('open', r, { once: true }));
  let id = 0;
  const pending = new Map<number, (v: unknown) => void>();
  ws.addEventListener('message', (e) => {
    const m = JSON.parse(String(e.data)) as { id?: number; result?: unknown };
    if (m.id) pending.get(m.id)?.(m.result);
  });
  const call = (method: string, params = {}) =>
    new Promise<unknown>((resolve) => {
      pending.set(++id, resolve);
      ws.send(JSON.stringify({ id, method, params }));
    });
  await call('Profiler.enable');
  await call('Profiler.setSamplingInterval', { interval: 100 });
  await call('Profiler.start');
  return async () => {
    const { profile } = (await call('Profiler.stop')) as { profile: unknown };
    writeFileSync(file, JSON.stringify(profile));
    ws.close();
  };
}
