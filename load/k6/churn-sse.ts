/**
 * Connection churn over SSE (k6 built with xk6-sse: one lane per VU); settings in churn-shared.ts.
 *   ./k6 run -e BASE_URL=http://127.0.0.1:8080 -e RUNTIME=bun -e LANES=64 load/k6/churn-sse.ts
 */
import { churnScript } from './churn-shared.ts';
import { xk6Sse } from './sse.ts';

const script = churnScript('sse', xk6Sse);
export const options = script.options;
export default script.run;
export const handleSummary = script.handleSummary;
