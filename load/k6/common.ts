/**
 * Settings shared by the k6 scripts, all from environment variables (k6 run -e NAME=value):
 *   BASE_URL   server under test (default http://127.0.0.1:8080)
 *   RUNTIME    tag on every metric: node, bun, deno, ... (default "unknown")
 *   PROTOCOL   relaykit (default), socket.io or centrifugo; API_KEY for Centrifugo publishes
 *   SUMMARY    JSON summary file (default summary-<script>-<runtime>.json)
 */
import { vu } from 'k6/execution';

export const BASE_URL = __ENV.BASE_URL || 'http://127.0.0.1:8080';
export const RUNTIME = __ENV.RUNTIME || 'unknown';
export const PROTOCOL = __ENV.PROTOCOL || 'relaykit';
export const API_KEY = __ENV.API_KEY || '';
export const TAGS = { runtime: RUNTIME, protocol: PROTOCOL };

export const num = (name: string, fallback: number): number => {
  const v = Number(__ENV[name]);
  return Number.isFinite(v) && __ENV[name] !== undefined && __ENV[name] !== '' ? v : fallback;
};

/** Errors fail a run; timings are reported against thresholds the user may tighten. */
export const ERROR_THRESHOLDS = {
  conn_errors: ['count==0'],
  conn_dropped: ['count==0'],
  protocol_errors: ['count==0'],
  publish_errors: ['count==0'],
  churn_errors: ['count==0'],
};

/** Spreads VU start times over `rampS` seconds so connections ramp instead of arriving at once. */
export function rampDelayMs(vus: number, rampS: number): number {
  return ((vu.idInTest - 1) / Math.max(1, vus)) * rampS * 1000;
}

export function summary(script: string) {
  return (data: unknown) => ({
    stdout: `\n${script} (${RUNTIME}): ${JSON.stringify((data as { metrics: Record<string, unknown> }).metrics, null, 1).slice(0, 4000)}\n`,
    [__ENV.SUMMARY || `summary-${script}-${RUNTIME}.json`]: JSON.stringify(data, null, 1),
  });
}
