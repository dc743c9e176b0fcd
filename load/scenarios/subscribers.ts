import { type Conn, type LoadEnv, M, hold } from './env.ts';
import { type Transport, extractT, protocolByName } from './protocols.ts';

export interface SubscribersParams {
  /** http://host:port of the server. */
  base: string;
  protocol: string;
  apiKey?: string;
  transport: Transport;
  /** Connections this process (or k6 VU) opens; with xk6-sse one VU holds one stream, so 1. */
  count: number;
  topics: string[];
  /** How long to hold the connections once all are subscribed (the driver may end it sooner). */
  holdMs: number;
  /** Connection attempts in flight at once. */
  maxInFlight?: number;
  connectTimeoutMs?: number;
}

/**
 * Connection scaling and fan-out, subscriber side: open `count` connections, subscribe each to
 * `topics`, then hold them, recording every delivered event's publish→deliver latency (the
 * publisher puts its clock in the event's `data.t`). Any connection that fails to subscribe or
 * drops while held is an error.
 */
export async function subscribers(env: LoadEnv, p: SubscribersParams): Promise<void> {
  const protocol = protocolByName(p.protocol, p.apiKey);
  const maxInFlight = p.maxInFlight ?? 256;
  const timeoutMs = p.connectTimeoutMs ?? 30_000;
  const conns: Conn[] = [];
  let closing = false;
  let holdUntil = Number.POSITIVE_INFINITY;
  const expectedClose = () => closing || env.now() >= holdUntil - 250;

  const openOne = () =>
    new Promise<void>((resolve) => {
      const started = env.now();
      let settled = false;
      let up = false;
      const settle = (ok: boolean) => {
        if (settled) return;
        settled = true;
        up = ok;
        env.clearTimeout(timer);
        if (ok) {
          env.count(M.connectOk);
          env.trend(M.connectMs, env.now() - started);
        } else env.count(M.connectErrors);
        resolve();
      };
      const timer = env.setTimeout(() => settle(false), timeoutMs);
      const onDelivered = (t: number | undefined) => {
        env.count(M.delivered);
        if (t !== undefined) env.trend(M.deliverMs, env.now() - t);
      };
      const onClosed = (code?: number) => {
        if (!settled) settle(false);
        else if (up && !expectedClose()) {
          env.count(M.dropped);
          // Which close code dropped it tells who closed it (1006: no close frame, 4008: slow consumer...).
          env.count(`dropped_code_${code ?? 'unknown'}`);
        }
        up = false;
      };
      if (p.transport === 'ws') {
        const conn: Conn = env.openWs(protocol.wsUrl(p.base), {
          onOpen() {
            for (const frame of protocol.onOpen(p.topics)) conn.send(frame);
          },
          onMessage(text) {
            const r = protocol.onMessage(text, p.topics);
            if (r.kind === 'event') {
              onDelivered(r.t);
              if (r.more) for (const t of r.more) onDelivered(t);
            }
            else if (r.kind === 'subscribed') settle(true);
            else if (r.kind === 'error') env.count(M.protocolErrors);
            if (r.reply) for (const frame of r.reply) conn.send(frame);
          },
          onClose: onClosed,
          onError() {
            if (!settled) settle(false);
          },
        });
        conns.push(conn);
      } else {
        const conn = env.openSse(
          protocol.sseUrl(p.base, p.topics),
          {
            onOpen: () => settle(true),
            onEvent(name, data) {
              if (name === 'reset' || name === 'error') env.count(M.protocolErrors);
              else onDelivered(extractT(data));
            },
            onClose: onClosed,
            onError() {
              if (!settled) settle(false);
            },
          },
          { closeAfterMs: p.holdMs },
        );
        conns.push(conn);
      }
    });

  // Ramp: keep `maxInFlight` attempts going until `count` have settled.
  let next = 0;
  const lane = async () => {
    while (next < p.count) {
      next++;
      await openOne();
    }
  };
  await Promise.all(Array.from({ length: Math.min(maxInFlight, p.count) }, lane));
  env.ready('subscribed');
  holdUntil = env.now() + p.holdMs;
  await hold(env, p.holdMs);
  closing = true;
  for (const conn of conns) conn.close();
}
