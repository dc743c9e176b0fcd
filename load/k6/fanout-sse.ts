/**
 * Fan-out latency over SSE (k6 built with xk6-sse; one stream per VU, so VUs = SUBSCRIBERS).
 *   ./k6 run -e BASE_URL=http://127.0.0.1:8080 -e RUNTIME=bun -e SUBSCRIBERS=2000 load/k6/fanout-sse.ts
 */
import { fanoutScript } from './fanout-shared.ts';
import { xk6Sse } from './sse.ts';

const script = fanoutScript('sse', xk6Sse);
export const options = script.options;
export const subscribers = script.subscribers;
export const publisher = script.publisher;
export const handleSummary = script.handleSummary;
