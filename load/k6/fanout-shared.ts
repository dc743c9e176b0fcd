/**
 * Fan-out latency, shared by fanout.ts (WebSocket) and fanout-sse.ts (SSE): SUBSCRIBERS
 * subscribers on one topic (WebSocket: SOCKETS_PER_VU per VU; SSE: one per VU, see
 * sse-connections.ts), and one publisher that publishes
 * EVENTS events at RATE/s over HTTP once the subscribers are up. Each event carries its publish
 * time, so deliver_ms is publish→deliver latency (clients and server must share a clock: run k6
 * on the server's host or with synchronised clocks).
 */
import type { Options } from 'k6/options';
import { sleep } from '../scenarios/env.ts';
import { publisher as publish } from '../scenarios/publisher.ts';
import { subscribers as subscribe } from '../scenarios/subscribers.ts';
import { type SseOpener, k6Env } from './adapter.ts';
import { API_KEY, BASE_URL, ERROR_THRESHOLDS, PROTOCOL, TAGS, num, rampDelayMs, summary } from './common.ts';

export function fanoutScript(TRANSPORT: 'ws' | 'sse', openSse?: SseOpener) {
  const SUBSCRIBERS = num('SUBSCRIBERS', 10_000);
  const PER_VU = TRANSPORT === 'sse' ? 1 : num('SOCKETS_PER_VU', 250);
  const VUS = Math.ceil(SUBSCRIBERS / PER_VU);
  const RATE = num('RATE', 1);
  const EVENTS = num('EVENTS', 60);
  const RAMP_S = num('RAMP_S', 30);
  const SETTLE_S = num('SETTLE_S', 10);
  const PUBLISH_S = Math.ceil(EVENTS / RATE) + 5;

  const options: Options = {
    tags: { ...TAGS, transport: TRANSPORT },
    scenarios: {
      subscribers: { executor: 'per-vu-iterations', exec: 'subscribers', vus: VUS, iterations: 1, maxDuration: `${RAMP_S + SETTLE_S + PUBLISH_S + 60}s` },
      publisher: { executor: 'per-vu-iterations', exec: 'publisher', vus: 1, iterations: 1, startTime: `${RAMP_S + SETTLE_S}s`, maxDuration: `${PUBLISH_S + 60}s` },
    },
    thresholds: {
      ...ERROR_THRESHOLDS,
      delivered: [`count>=${SUBSCRIBERS * EVENTS}`],
      deliver_ms: [`p(99)<${num('P99_MS', 500)}`],
    },
  };

  async function subscribers() {
    const env = k6Env({ ...TAGS, transport: TRANSPORT }, openSse);
    await sleep(env, rampDelayMs(VUS, RAMP_S));
    await subscribe(env, {
      base: BASE_URL,
      protocol: PROTOCOL,
      apiKey: API_KEY,
      transport: TRANSPORT,
      count: PER_VU,
      topics: ['bench'],
      holdMs: (RAMP_S + SETTLE_S + PUBLISH_S) * 1000 - rampDelayMs(VUS, RAMP_S),
      maxInFlight: 32,
    });
  }

  async function publisher() {
    await publish(k6Env(TAGS), { base: BASE_URL, protocol: PROTOCOL, apiKey: API_KEY, topic: 'bench', rate: RATE, events: EVENTS });
  }

  return { options, subscribers, publisher, handleSummary: summary(`fanout-${TRANSPORT}`) };
}
