/**
 * docs/load-report.md is two runs: the full profile's (docs/load-report.json) and the cluster
 * profile's (docs/load-report-cluster.json), each written by its own `--docs` run; whichever runs
 * last renders the page from both, so neither run's section is lost.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LoadRun } from '@relaykit/contracts';
import { hasCluster } from './cluster.ts';
import { renderReport } from './render.ts';

/** Where a run's JSON goes in docs/. */
export const docsJson = (run: LoadRun) => (run.profile === 'cluster' ? 'load-report-cluster.json' : 'load-report.json');

/** Renders `dir`/load-report.md (charts in `dir`/charts) from the run JSONs in `dir`; returns its path. */
export function renderDocs(dir: string): string {
  const read = (name: string) => (existsSync(join(dir, name)) ? LoadRun.parse(JSON.parse(readFileSync(join(dir, name), 'utf8'))) : undefined);
  const main = read('load-report.json');
  const cluster = read('load-report-cluster.json');
  if (main) return renderReport(main, dir, 'load-report.md', join(dir, 'charts'), hasCluster(main) ? undefined : cluster);
  if (cluster) return renderReport(cluster, dir, 'load-report.md', join(dir, 'charts'));
  throw new Error(`no load-report.json or load-report-cluster.json in ${dir}`);
}
