/**
 * The tiny interface every load scenario is written against. Two adapters implement it:
 * load/k6/adapter.ts (k6/websockets, xk6-sse, k6/http, k6/metrics, k6/timers) and
 * load/driver/node-env.ts (ws, node:http, worker processes). Scenario modules import nothing
 * else, so what the project's driver runs here is what a k6 user runs.
 */
export interface Conn {
  send(text: string): void;
  close(): void;
}

export interface WsHandlers {
  onOpen?(): void;
  onMessage(text: string): void;
  /** `code` is the WebSocket close code when the adapter knows it (1006: closed without a close frame). */
  onClose?(code?: number): void;
  onError?(message: string): void;
}

export interface SseHandlers {
  /** Gets the stream's handle: under k6 openSse has not returned yet when this runs. */
  onOpen?(conn: Conn): void;
  onEvent(name: string, data: string, conn: Conn): void;
  onClose?(): void;
  onError?(message: string): void;
}

export interface HttpRequest {
  url: string;
  body: string;
  headers?: Record<string, string>;
}

export interface LoadEnv {
  /** 'k6' or 'node': scenarios never branch on it except to size what one VU can hold. */
  readonly name: string;
  /** Milliseconds since 1970 with sub-millisecond precision; shared by every process on this host. */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  openWs(url: string, handlers: WsHandlers): Conn;
  /**
   * Opens an event stream. With k6 (xk6-sse) this call blocks the VU until the stream closes,
   * which it does by itself after `closeAfterMs`: one stream per VU.
   */
  openSse(url: string, handlers: SseHandlers, options: { closeAfterMs: number }): Conn;
  /** POST; resolves to the status (0 on a network error). */
  post(request: HttpRequest): Promise<number>;
  trend(name: string, value: number): void;
  count(name: string, n?: number): void;
  /** A scenario reached a phase (e.g. all connections subscribed); the driver samples the server then. */
  ready(label: string): void;
  /** Resolves when the driver asks the scenario to end early; never resolves under k6. */
  stopped(): Promise<void>;
}

export function sleep(env: LoadEnv, ms: number): Promise<void> {
  return new Promise((resolve) => env.setTimeout(resolve, ms));
}

/** Waits `ms` or until the driver says stop, whichever comes first. */
export function hold(env: LoadEnv, ms: number): Promise<void> {
  return Promise.race([sleep(env, ms), env.stopped()]);
}

/** Metric names shared by every scenario, the k6 thresholds and the report. */
export const M = {
  connectOk: 'conn_ok',
  connectErrors: 'conn_errors',
  dropped: 'conn_dropped',
  connectMs: 'connect_ms',
  delivered: 'delivered',
  deliverMs: 'deliver_ms',
  published: 'published',
  publishErrors: 'publish_errors',
  publishMs: 'publish_ms',
  acked: 'acked',
  churnCycles: 'churn_cycles',
  churnErrors: 'churn_errors',
  churnMs: 'churn_cycle_ms',
  protocolErrors: 'protocol_errors',
} as const;

/** Every counter that must stay 0 for a run to pass. */
export const ERROR_COUNTERS = [M.connectErrors, M.dropped, M.publishErrors, M.churnErrors, M.protocolErrors] as const;
