import { type Conn, type LoadEnv, M, sleep } from './env.ts';
import { protocolByName } from './protocols.ts';

export interface ThroughputParams {
  base: string;
  protocol: string;
  /** Publishing WebSocket connections this process opens. */
  connections: number;
  topic: string;
  /** Publish frames awaiting their ack per connection. */
  window: number;
  durationMs: number;
  padBytes?: number;
  /** Also counts acks as `acked_<tag>`: several servers driven at once, each its own count. */
  tag?: string;
}

/**
 * Publish throughput: each connection keeps `window` WebSocket publish frames in flight and sends
 * the next on every ack, for `durationMs`. Counts acks (`acked`) and error frames.
 */
export async function throughput(env: LoadEnv, p: ThroughputParams): Promise<void> {
  const protocol = protocolByName(p.protocol);
  const wsPublish = protocol.wsPublish;
  if (!wsPublish) throw new Error(`${protocol.name} has no WebSocket publish frame`);
  const pad = 'x'.repeat(p.padBytes ?? 0);
  const conns: Conn[] = [];
  let ref = 0;
  let running = true;
  const done: Promise<void>[] = [];
  for (let c = 0; c < p.connections; c++) {
    done.push(
      new Promise<void>((resolve) => {
        let started = false;
        let outstanding = 0;
        const send = () => {
          outstanding++;
          conn.send(wsPublish(p.topic, `{"t":${env.now()},"pad":"${pad}"}`, ++ref));
        };
        const conn = env.openWs(protocol.wsUrl(p.base), {
          onMessage(text) {
            const r = protocol.onMessage(text, [p.topic]);
            if (!started) {
              // The first frame is the welcome: start publishing (no subscription wanted).
              started = true;
              env.count(M.connectOk);
              for (let i = 0; i < p.window; i++) send();
              return;
            }
            if (r.kind === 'ack') {
              outstanding--;
              env.count(M.acked);
              if (p.tag) env.count(`${M.acked}_${p.tag}`);
              if (running) send();
              else if (outstanding === 0) conn.close();
            } else if (r.kind === 'error') {
              outstanding--;
              env.count(M.publishErrors);
            }
          },
          onClose: () => resolve(),
          onError() {
            if (!started) env.count(M.connectErrors);
            resolve();
          },
        });
        conns.push(conn);
      }),
    );
  }
  await sleep(env, p.durationMs);
  running = false;
  await sleep(env, 1000);
  for (const conn of conns) conn.close();
  await Promise.race([Promise.all(done), sleep(env, 2000)]);
}
