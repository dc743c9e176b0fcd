/**
 * Connection churn over WebSocket (stock k6); settings in churn-shared.ts.
 *   k6 run -e BASE_URL=http://127.0.0.1:8080 -e RUNTIME=node -e LANES=64 -e DURATION_S=30 load/k6/churn.ts
 */
import { churnScript } from './churn-shared.ts';

const script = churnScript('ws');
export const options = script.options;
export default script.run;
export const handleSummary = script.handleSummary;
