/**
 * Publish throughput: PUBLISHERS WebSocket connections (PER_VU per VU) each keep WINDOW publish
 * frames in flight for DURATION_S, while SUBSCRIBERS WebSocket subscribers receive. `acked` /
 * duration is the publish rate; `delivered` the fan-out rate.
 *   k6 run -e BASE_URL=... -e RUNTIME=bun load/k6/throughput.ts
 */
import type { Options } from 'k6/options';
import { sleep } from '../scenarios/env.ts';
import { subscribers as subscribe } from '../scenarios/subscribers.ts';
import { throughput } from '../scenarios/throughput.ts';
import { k6Env } from './adapter.ts';
import { BASE_URL, ERROR_THRESHOLDS, TAGS, num, summary } from './common.ts';

const PUBLISHERS = num('PUBLISHERS', 8);
const SUBSCRIBERS = num('SUBSCRIBERS', 100);
const DURATION_S = num('DURATION_S', 30);

export const options: Options = {
  tags: TAGS,
  scenarios: {
    subscribers: { executor: 'per-vu-iterations', exec: 'subscribers', vus: 1, iterations: 1, maxDuration: `${DURATION_S + 30}s` },
    publishers: { executor: 'per-vu-iterations', exec: 'publishers', vus: PUBLISHERS, iterations: 1, startTime: '5s', maxDuration: `${DURATION_S + 30}s` },
  },
  thresholds: { ...ERROR_THRESHOLDS, acked: ['count>0'] },
};

export async function subscribers() {
  await subscribe(k6Env(TAGS), { base: BASE_URL, protocol: 'relaykit', transport: 'ws', count: SUBSCRIBERS, topics: ['tp'], holdMs: (DURATION_S + 10) * 1000 });
}

export async function publishers() {
  const env = k6Env(TAGS);
  await throughput(env, { base: BASE_URL, protocol: 'relaykit', connections: 1, topic: 'tp', window: num('WINDOW', 32), durationMs: DURATION_S * 1000 });
  await sleep(env, 0);
}

export const handleSummary = summary('throughput');
