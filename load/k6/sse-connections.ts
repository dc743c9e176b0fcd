/**
 * Connection scaling over SSE: xk6-sse holds ONE stream per VU (sse.open blocks the VU), so this
 * script runs CONNECTIONS VUs — each VU is a goroutine plus a JS runtime, so k6 itself needs far
 * more memory per SSE connection than per WebSocket. Build k6 with the extension first:
 *   xk6 build --with github.com/phymbert/xk6-sse@latest
 *   ./k6 run -e BASE_URL=http://127.0.0.1:8080 -e RUNTIME=bun -e CONNECTIONS=19500 load/k6/sse-connections.ts
 * A stream closes at the first event after HOLD_S; on a quiet topic it stays open until the
 * scenario's maxDuration ends the VU.
 */
import type { Options } from 'k6/options';
import { sleep } from '../scenarios/env.ts';
import { subscribers } from '../scenarios/subscribers.ts';
import { k6Env } from './adapter.ts';
import { xk6Sse } from './sse.ts';
import { BASE_URL, ERROR_THRESHOLDS, TAGS, num, rampDelayMs, summary } from './common.ts';

const CONNECTIONS = num('CONNECTIONS', 10_000);
const RAMP_S = num('RAMP_S', 30);
const HOLD_S = num('HOLD_S', 60);

export const options: Options = {
  tags: TAGS,
  scenarios: {
    sse_connections: { executor: 'per-vu-iterations', vus: CONNECTIONS, iterations: 1, maxDuration: `${RAMP_S + HOLD_S + 30}s`, gracefulStop: '5s' },
  },
  thresholds: { ...ERROR_THRESHOLDS, conn_ok: [`count>=${CONNECTIONS}`] },
};

export default async function () {
  const env = k6Env(TAGS, xk6Sse);
  await sleep(env, rampDelayMs(CONNECTIONS, RAMP_S));
  await subscribers(env, {
    base: BASE_URL,
    protocol: 'relaykit',
    transport: 'sse',
    count: 1,
    topics: ['bench'],
    holdMs: (RAMP_S + HOLD_S) * 1000 - rampDelayMs(CONNECTIONS, RAMP_S),
  });
}

export const handleSummary = summary('sse-connections');
