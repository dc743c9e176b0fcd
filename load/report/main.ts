/** Re-renders a report from a results JSON: node report/main.ts <run.json> [--docs | --out DIR] (--docs: see docs.ts) */
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { LoadRun } from '@relaykit/contracts';
import { readFileSync } from 'node:fs';
import { LOAD_DIR, ROOT } from '../runner/targets.ts';
import { docsJson, renderDocs } from './docs.ts';
import { renderReport } from './render.ts';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { docs: { type: 'boolean', default: false }, out: { type: 'string' } } });
const file =
  positionals[0] ??
  join(
    LOAD_DIR,
    'results',
    readdirSync(join(LOAD_DIR, 'results'))
      .filter((f) => f.startsWith('run-') && f.endsWith('.json'))
      .sort()
      .pop() ?? '',
  );
const run = LoadRun.parse(JSON.parse(readFileSync(file, 'utf8')));
const dir = values.docs ? join(ROOT, 'docs') : (values.out ?? join(LOAD_DIR, 'results', `report-${run.profile}`));
mkdirSync(dir, { recursive: true });
if (values.docs) {
  // A cluster run goes beside the full run's JSON, and the page is rendered from both.
  const into = join(dir, docsJson(run));
  if (resolve(file) !== resolve(into)) copyFileSync(file, into);
  console.log(renderDocs(dir));
} else console.log(renderReport(run, dir, 'load-report.md', join(dir, 'charts')));
