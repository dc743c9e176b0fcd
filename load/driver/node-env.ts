import http from 'node:http';
import WebSocket from 'ws';
import type { Conn, HttpRequest, LoadEnv, SseHandlers, WsHandlers } from '../scenarios/env.ts';
import { type EncodedHistogram, LatencyHistogram } from './histogram.ts';

/**
 * Counters and latency histograms of one worker process (or of the runner's own publisher),
 * taken and reset by the runner per phase.
 */
export class Metrics {
  counters: Record<string, number> = {};
  trends: Record<string, LatencyHistogram> = {};
  count(name: string, n = 1): void {
    this.counters[name] = (this.counters[name] ?? 0) + n;
  }
  trend(name: string, value: number): void {
    (this.trends[name] ??= new LatencyHistogram()).record(value);
  }
  /** The counters, and the histograms encoded when `trends` (a progress tick reads counters only). */
  take(reset: boolean, trends: boolean): { counters: Record<string, number>; trends: Record<string, EncodedHistogram> } {
    const out = { counters: { ...this.counters }, trends: trends ? Object.fromEntries(Object.entries(this.trends).map(([k, h]) => [k, h.encode()])) : {} };
    if (reset) {
      this.counters = {};
      this.trends = {};
    }
    return out;
  }
}

export interface NodeEnvOptions {
  metrics: Metrics;
  /** Source address for every socket (127.0.0.2, .3, ... give each worker its own ephemeral ports). */
  localAddress?: string;
  onReady(label: string): void;
  stopped: Promise<void>;
}

/** The LoadEnv of the project's driver: `ws` for WebSockets, node:http for SSE and publishes. */
export function createNodeEnv(options: NodeEnvOptions): LoadEnv {
  const { metrics, localAddress } = options;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64, ...(localAddress ? { localAddress } : {}) });
  return {
    name: 'node',
    now: () => performance.timeOrigin + performance.now(),
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
    count: (name, n) => metrics.count(name, n),
    trend: (name, value) => metrics.trend(name, value),
    ready: (label) => options.onReady(label),
    stopped: () => options.stopped,

    openWs(url: string, h: WsHandlers): Conn {
      const ws = new WebSocket(url, { perMessageDeflate: false, ...(localAddress ? { localAddress } : {}) });
      ws.on('open', () => h.onOpen?.());
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        if (!isBinary) h.onMessage(data.toString());
      });
      ws.on('close', (code: number) => h.onClose?.(code));
      ws.on('error', (error) => h.onError?.(error.message));
      return {
        send(text) {
          if (ws.readyState === WebSocket.OPEN) ws.send(text);
        },
        close() {
          if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.terminate();
        },
      };
    },

    openSse(url: string, h: SseHandlers, { closeAfterMs }): Conn {
      let closed = false;
      const req = http.get(url, { agent: false, headers: { accept: 'text/event-stream' }, ...(localAddress ? { localAddress } : {}) });
      const conn: Conn = {
        send() {
          throw new Error('an SSE stream is receive-only');
        },
        close() {
          if (closed) return;
          closed = true;
          req.destroy();
        },
      };
      const timer = setTimeout(() => conn.close(), closeAfterMs);
      req.on('response', (res) => {
        if (res.statusCode !== 200) {
          h.onError?.(`status ${res.statusCode}`);
          res.resume();
          conn.close();
          return;
        }
        h.onOpen?.(conn);
        res.setEncoding('utf8');
        let buffer = '';
        res.on('data', (chunk: string) => {
          buffer += chunk;
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            if (block.startsWith(':')) continue; // comment (open, keepalive)
            let name = 'message';
            let data = '';
            for (const line of block.split('\n')) {
              if (line.startsWith('data:')) data += (data ? '\n' : '') + line.slice(line.charCodeAt(5) === 32 ? 6 : 5);
              else if (line.startsWith('event:')) name = line.slice(line.charCodeAt(6) === 32 ? 7 : 6);
            }
            if (data || name !== 'message') h.onEvent(name, data, conn);
          }
        });
        res.on('error', () => {});
      });
      req.on('error', (error) => h.onError?.(error.message));
      req.on('close', () => {
        clearTimeout(timer);
        closed = true;
        h.onClose?.();
      });
      return conn;
    },

    post(request: HttpRequest): Promise<number> {
      return new Promise((resolve) => {
        const req = http.request(request.url, { method: 'POST', agent, headers: request.headers ?? {} }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', () => resolve(0));
        });
        req.on('error', () => resolve(0));
        req.end(request.body);
      });
    },
  };
}
