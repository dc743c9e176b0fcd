/**
 * Connection churn: lanes that connect, subscribe, close and start over for DURATION_S.
 * WebSocket: LANES_PER_VU lanes per VU; SSE (TRANSPORT=sse, needs xk6-sse): one lane per VU.
 *   k6 run -e BASE_URL=... -e RUNTIME=node -e TRANSPORT=ws -e LANES=64 load/k6/churn.ts
 */
import type { Options } from 'k6/options';
import { churn } from '../scenarios/churn.ts';
import { k6Env } from './adapter.ts';
import { API_KEY, BASE_URL, ERROR_THRESHOLDS, PROTOCOL, TAGS, num, summary } from './common.ts';

const TRANSPORT = (__ENV.TRANSPORT || 'ws') === 'sse' ? 'sse' : 'ws';
const LANES = num('LANES', 64);
const PER_VU = TRANSPORT === 'sse' ? 1 : num('LANES_PER_VU', 16);
const DURATION_S = num('DURATION_S', 30);

export const options: Options = {
  tags: { ...TAGS, transport: TRANSPORT },
  scenarios: {
    churn: { executor: 'per-vu-iterations', vus: Math.ceil(LANES / PER_VU), iterations: 1, maxDuration: `${DURATION_S + 30}s` },
  },
  thresholds: { ...ERROR_THRESHOLDS, churn_cycles: ['count>0'], churn_cycle_ms: ['p(99)<2000'] },
};

export default async function () {
  await churn(k6Env({ ...TAGS, transport: TRANSPORT }), {
    base: BASE_URL,
    protocol: PROTOCOL,
    apiKey: API_KEY,
    transport: TRANSPORT,
    concurrency: PER_VU,
    topics: ['churn'],
    durationMs: DURATION_S * 1000,
  });
}

export const handleSummary = summary(`churn-${TRANSPORT}`);
