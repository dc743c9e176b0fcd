/**
 * Connection scaling over WebSocket: ramp to CONNECTIONS sockets (SOCKETS_PER_VU per VU through
 * k6/websockets), each subscribed to a topic, and hold them HOLD_S seconds. 0 errors expected.
 *   k6 run -e BASE_URL=http://127.0.0.1:8080 -e RUNTIME=node -e CONNECTIONS=19500 load/k6/ws-connections.ts
 */
import type { Options } from 'k6/options';
import { sleep } from '../scenarios/env.ts';
import { subscribers } from '../scenarios/subscribers.ts';
import { k6Env } from './adapter.ts';
import { API_KEY, BASE_URL, ERROR_THRESHOLDS, PROTOCOL, TAGS, num, rampDelayMs, summary } from './common.ts';

const CONNECTIONS = num('CONNECTIONS', 10_000);
const PER_VU = num('SOCKETS_PER_VU', 250);
const VUS = Math.ceil(CONNECTIONS / PER_VU);
const RAMP_S = num('RAMP_S', 30);
const HOLD_S = num('HOLD_S', 60);

export const options: Options = {
  tags: TAGS,
  scenarios: {
    ws_connections: { executor: 'per-vu-iterations', vus: VUS, iterations: 1, maxDuration: `${RAMP_S + HOLD_S + 120}s` },
  },
  thresholds: { ...ERROR_THRESHOLDS, conn_ok: [`count>=${CONNECTIONS}`], connect_ms: ['p(99)<5000'] },
};

export default async function () {
  const env = k6Env(TAGS);
  await sleep(env, rampDelayMs(VUS, RAMP_S));
  await subscribers(env, {
    base: BASE_URL,
    protocol: PROTOCOL,
    apiKey: API_KEY,
    transport: 'ws',
    count: PER_VU,
    topics: ['bench'],
    holdMs: (RAMP_S + HOLD_S) * 1000 - rampDelayMs(VUS, RAMP_S),
    maxInFlight: 32,
  });
}

export const handleSummary = summary('ws-connections');
