import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LoadRun } from '@relaykit/contracts';

export function renderReport(run: LoadRun, dir: string, file: string): string {
  mkdirSync(dir, { recursive: true });
  const out = join(dir, file);
  writeFileSync(out, `# stub\n\n${run.measurements.length} measurements\n`);
  return out;
}
