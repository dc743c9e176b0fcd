import { type LoadEnv, M, sleep } from './env.ts';
import { protocolByName } from './protocols.ts';

export interface PublisherParams {
  base: string;
  protocol: string;
  apiKey?: string;
  topic: string;
  /** Events per second. */
  rate: number;
  /** Events to publish in all. */
  events: number;
  /** Extra bytes of padding in each event's data. */
  padBytes?: number;
  /** Publishes in flight at once; past it the publisher waits (and falls behind its rate). */
  maxInFlight?: number;
}

/**
 * Fan-out latency and CPU, publisher side: HTTP-publishes `events` events at `rate`/s, each with
 * its publish time in `data.t` (ms since 1970, sub-ms) so subscribers can record publish→deliver.
 */
export async function publisher(env: LoadEnv, p: PublisherParams): Promise<void> {
  const protocol = protocolByName(p.protocol, p.apiKey);
  const pad = 'x'.repeat(p.padBytes ?? 0);
  const maxInFlight = p.maxInFlight ?? 64;
  const interval = 1000 / p.rate;
  const start = env.now();
  let inFlight = 0;
  let drained: (() => void) | undefined;
  const pending: Promise<void>[] = [];
  for (let seq = 0; seq < p.events; seq++) {
    const due = start + seq * interval;
    const wait = due - env.now();
    if (wait > 0) await sleep(env, wait);
    while (inFlight >= maxInFlight) await new Promise<void>((resolve) => (drained = resolve));
    const t = env.now();
    const request = protocol.publish(p.base, p.topic, `{"t":${t},"seq":${seq},"pad":"${pad}"}`);
    inFlight++;
    pending.push(
      env.post(request).then((status) => {
        inFlight--;
        env.trend(M.publishMs, env.now() - t);
        if (status >= 200 && status < 300) env.count(M.published);
        else env.count(M.publishErrors);
        drained?.();
        drained = undefined;
      }),
    );
  }
  await Promise.all(pending);
}
