/**
 * Diagnostic for the attacks suite (`--attack-gc`): start a Node or Deno server with
 * `--inspect=127.0.0.1:<port>` and force full garbage collections through the Chrome DevTools
 * Protocol, so that RSS growth can be split into what the server retains and what is garbage V8
 * has not collected yet. Bun's inspector speaks WebKit's protocol: not supported (undefined).
 */
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface InspectorGc {
  /** Two full GCs; resolves with V8's used heap in KB afterwards (undefined when it failed). */
  collect(): Promise<number | undefined>;
  close(): void;
}

export function inspectArgs(runtime: string, args: string[], port: number): string[] | undefined {
  const flag = `--inspect=127.0.0.1:${port}`;
  if (runtime === 'node') return [flag, ...args];
  if (runtime === 'deno' && args[0] === 'run') return ['run', flag, ...args.slice(1)];
  return undefined;
}

export async function connectInspector(port: number, timeoutMs = 10_000): Promise<InspectorGc | undefined> {
  const deadline = Date.now() + timeoutMs;
  let url: string | undefined;
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
      await call('HeapProfiler.collectGarbage');
      await call('HeapProfiler.collectGarbage');
      await sleep(300);
      const h = (await call('Runtime.getHeapUsage')) as { usedSize?: number } | undefined;
      return h?.usedSize !== undefined ? Math.round(h.usedSize / 1024) : undefined;
    },
    close: () => ws.close(),
  };
}
