import { type LoadEnv, M, sleep } from './env.ts';
import { type Transport, protocolByName } from './protocols.ts';

export interface ChurnParams {
  base: string;
  protocol: string;
  apiKey?: string;
  transport: Transport;
  /** Connect→subscribe→close loops running at once in this process (1 per VU for k6 SSE). */
  concurrency: number;
  topics: string[];
  durationMs: number;
  cycleTimeoutMs?: number;
}

/**
 * Connection churn: each lane connects, waits until subscribed, closes, and starts over, for
 * `durationMs`. Records cycle time; a cycle that fails or times out is an error.
 */
export async function churn(env: LoadEnv, p: ChurnParams): Promise<void> {
  const protocol = protocolByName(p.protocol, p.apiKey);
  const end = env.now() + p.durationMs;
  const timeoutMs = p.cycleTimeoutMs ?? 20_000;

  const cycle = () =>
    new Promise<void>((resolve) => {
      const started = env.now();
      let settled = false;
      const settle = (ok: boolean) => {
        if (settled) return;
        settled = true;
        env.clearTimeout(timer);
        if (ok) {
          env.count(M.churnCycles);
          env.trend(M.churnMs, env.now() - started);
        } else env.count(M.churnErrors);
        resolve();
      };
      const timer = env.setTimeout(() => settle(false), timeoutMs);
      if (p.transport === 'ws') {
        const conn = env.openWs(protocol.wsUrl(p.base), {
          onOpen() {
            for (const frame of protocol.onOpen(p.topics)) conn.send(frame);
          },
          onMessage(text) {
            const r = protocol.onMessage(text, p.topics);
            if (r.reply) for (const frame of r.reply) conn.send(frame);
            if (r.kind === 'subscribed') {
              conn.close();
              settle(true);
            } else if (r.kind === 'error') settle(false);
          },
          onClose: () => settle(false),
          onError: () => settle(false),
        });
      } else {
        env.openSse(
          protocol.sseUrl(p.base, p.topics),
          {
            onOpen(conn) {
              conn.close();
              settle(true);
            },
            onEvent() {},
            onClose: () => settle(false),
            onError: () => settle(false),
          },
          { closeAfterMs: timeoutMs },
        );
      }
    });

  const lane = async () => {
    while (env.now() < end) {
      await cycle();
      // Yield so a lane that fails fast cannot spin.
      await sleep(env, 0);
    }
  };
  await Promise.all(Array.from({ length: p.concurrency }, lane));
}
