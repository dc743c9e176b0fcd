/**
 * Forced garbage collection in a server under test (the attacks suite's `--attack-gc`, the soak
 * suite): start it with `--inspect=127.0.0.1:<port>` and force full collections from outside, so
 * that RSS growth can be split into what the server retains and what is garbage not collected yet.
 * Node and Deno: the Chrome DevTools Protocol (HeapProfiler.collectGarbage, Runtime.getHeapUsage:
 * V8's used heap). Bun: its inspector speaks WebKit's protocol at a path we choose, which has no
 * HeapProfiler but does evaluate an expression: `Bun.gc(true)` (a synchronous full collection),
 * then `process.memoryUsage().heapUsed` (JavaScriptCore's heap).
 */
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface InspectorGc {
  /** Two full GCs; resolves with V8's used heap in KB afterwards (undefined when it failed). */
  collect(): Promise<number | undefined>;
  close(): void;
}

/** Bun's inspector listens at ws://host:port/<path>; a fixed path spares us its random one. */
const BUN_INSPECT_PATH = 'relaykit-gc';

export function inspectArgs(runtime: string, args: string[], port: number): string[] | undefined {
  const flag = `--inspect=127.0.0.1:${port}`;
  if (runtime === 'node') return [flag, ...args];
  if (runtime === 'bun') return [`${flag}/${BUN_INSPECT_PATH}`, ...args];
  if (runtime === 'deno' && args[0] === 'run') return ['run', flag, ...args.slice(1)];
  return undefined;
}

export async function connectInspector(port: number, timeoutMs = 10_000, runtime = 'node'): Promise<InspectorGc | undefined> {
  const deadline = Date.now() + timeoutMs;
  const bun = runtime === 'bun';
  let url: string | undefined = bun ? `ws://127.0.0.1:${port}/${BUN_INSPECT_PATH}` : undefined;
  while (!url && Date.now() < deadline) {
    try {
      const list = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as Array<{ webSocketDebuggerUrl?: string }>;
      url = list[0]?.webSocketDebuggerUrl;
    } catch {
      await sleep(200);
    }
  }
  if (!url) return undefined;
  const ws = new WebSocket(url);
  const opened = await Promise.race([new Promise<boolean>((r) => ws.addEventListener('open', () => r(true))), sleep(5000).then(() => false)]);
  if (!opened) return undefined;
  let id = 0;
  const pending = new Map<number, (v: unknown) => void>();
  ws.addEventListener('message', (e) => {
    const m = JSON.parse(String(e.data)) as { id?: number; result?: unknown };
    if (m.id && pending.has(m.id)) {
      pending.get(m.id)!(m.result);
      pending.delete(m.id);
    }
  });
  const call = (method: string, params = {}) =>
    Promise.race([
      new Promise<unknown>((resolve) => {
        const i = ++id;
        pending.set(i, resolve);
        ws.send(JSON.stringify({ id: i, method, params }));
      }),
      sleep(15_000).then(() => undefined),
    ]);
  return {
    async collect() {
      if (bun) {
        const r = (await call('Runtime.evaluate', { expression: 'Bun.gc(true); Bun.gc(true); process.memoryUsage().heapUsed', returnByValue: true })) as { result?: { value?: unknown } } | undefined;
        await sleep(300);
        return typeof r?.result?.value === 'number' ? Math.round(r.result.value / 1024) : undefined;
      }
      await call('HeapProfiler.collectGarbage');
      await call('HeapProfiler.collectGarbage');
      await sleep(300);
      const h = (await call('Runtime.getHeapUsage')) as { usedSize?: number } | undefined;
      return h?.usedSize !== undefined ? Math.round(h.usedSize / 1024) : undefined;
    },
    close: () => ws.close(),
  };
}
