/**
 * Connection churn, shared by churn.ts (WebSocket) and churn-sse.ts (SSE): lanes that connect,
 * subscribe, close and start over for DURATION_S. WebSocket: LANES_PER_VU lanes per VU; SSE
 * (needs xk6-sse): one lane per VU.
 */
import type { Options } from 'k6/options';
import { churn } from '../scenarios/churn.ts';
import { type SseOpener, k6Env } from './adapter.ts';
import { API_KEY, BASE_URL, ERROR_THRESHOLDS, PROTOCOL, TAGS, num, summary } from './common.ts';

export function churnScript(TRANSPORT: 'ws' | 'sse', openSse?: SseOpener) {
  const LANES = num('LANES', 64);
  const PER_VU = TRANSPORT === 'sse' ? 1 : num('LANES_PER_VU', 16);
  const DURATION_S = num('DURATION_S', 30);

  const options: Options = {
    tags: { ...TAGS, transport: TRANSPORT },
    scenarios: {
      churn: { executor: 'per-vu-iterations', vus: Math.ceil(LANES / PER_VU), iterations: 1, maxDuration: `${DURATION_S + 30}s` },
    },
    thresholds: { ...ERROR_THRESHOLDS, churn_cycles: ['count>0'], churn_cycle_ms: ['p(99)<2000'] },
  };

  async function run() {
    await churn(k6Env({ ...TAGS, transport: TRANSPORT }, openSse), {
      base: BASE_URL,
      protocol: PROTOCOL,
      apiKey: API_KEY,
      transport: TRANSPORT,
      concurrency: PER_VU,
      topics: ['churn'],
      durationMs: DURATION_S * 1000,
    });
  }

  return { options, run, handleSummary: summary(`churn-${TRANSPORT}`) };
}
