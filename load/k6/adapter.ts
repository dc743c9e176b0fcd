/**
 * The k6 side of the scenario interface (load/scenarios/env.ts): WebSockets through
 * k6/websockets (many per VU), publishes through http.asyncRequest, metrics through k6/metrics,
 * timers through k6/timers; SSE through xk6-sse, passed in from ./sse.ts (blocks the VU: one stream
 * per VU) so that the WebSocket scripts run on a stock k6. This thin adapter is the only
 * k6-specific code; the scenarios are the ones the project's driver runs.
 */
import http from 'k6/http';
import { Counter, Trend } from 'k6/metrics';
import { clearTimeout, setTimeout } from 'k6/timers';
import { WebSocket } from 'k6/websockets';
import { type Conn, type HttpRequest, type LoadEnv, M, type SseHandlers, type WsHandlers } from '../scenarios/env.ts';

const TRENDS = new Set<string>([M.connectMs, M.deliverMs, M.publishMs, M.churnMs]);
// k6 metrics must be created in the init context: one per name the scenarios use.
const trends: Record<string, Trend> = {};
const counters: Record<string, Counter> = {};
for (const name of Object.values(M)) {
  if (TRENDS.has(name)) trends[name] = new Trend(name, true);
  else counters[name] = new Counter(name);
}

const never = new Promise<void>(() => {});

/** Opens an SSE stream (see ./sse.ts); absent on a stock k6. */
export type SseOpener = (url: string, h: SseHandlers, options: { closeAfterMs: number }, tags: Record<string, string>) => Conn;

export function k6Env(tags: Record<string, string> = {}, openSse?: SseOpener): LoadEnv {
  return {
    name: 'k6',
    now: () => Date.now(),
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (handle) => clearTimeout(handle as number),
    trend: (name, value) => trends[name]?.add(value, tags),
    count: (name, n = 1) => counters[name]?.add(n, tags),
    ready: () => {},
    stopped: () => never,

    openWs(url: string, h: WsHandlers): Conn {
      const ws = new WebSocket(url, null, { tags });
      ws.onopen = () => h.onOpen?.();
      ws.onmessage = (event) => {
        if (event && typeof event.data === 'string') h.onMessage(event.data);
      };
      ws.onclose = () => h.onClose?.();
      ws.onerror = (event) => h.onError?.(event?.error ?? 'websocket error');
      return {
        send: (text) => {
          if (ws.readyState === 1) ws.send(text);
        },
        close: () => {
          if (ws.readyState === 0 || ws.readyState === 1) ws.close();
        },
      };
    },

    openSse(url: string, h: SseHandlers, options: { closeAfterMs: number }): Conn {
      if (!openSse) throw new Error('SSE needs a k6 built with xk6-sse and a script that imports ./sse.ts');
      return openSse(url, h, options, tags);
    },

    async post(request: HttpRequest): Promise<number> {
      const res = await http.asyncRequest('POST', request.url, request.body, { headers: request.headers ?? {}, tags });
      return res.status;
    },
  };
}
