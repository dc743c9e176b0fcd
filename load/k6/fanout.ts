/**
 * Fan-out latency over WebSocket (stock k6): SUBSCRIBERS subscribers, one HTTP publisher at RATE/s
 * for EVENTS events; deliver_ms is publish→deliver. See fanout-shared.ts for every setting.
 *   k6 run -e BASE_URL=http://127.0.0.1:8080 -e RUNTIME=deno -e SUBSCRIBERS=10000 -e RATE=1 -e EVENTS=60 load/k6/fanout.ts
 */
import { fanoutScript } from './fanout-shared.ts';

const script = fanoutScript('ws');
export const options = script.options;
export const subscribers = script.subscribers;
export const publisher = script.publisher;
export const handleSummary = script.handleSummary;
