/**
 * docs/load-report.md is up to three runs: the full profile's (docs/load-report.json), the cluster
 * profile's (docs/load-report-cluster.json) and the soak suite's (docs/load-report-soak.json), each
 * written by its own `--docs` run; whichever runs last renders the page from all, so no run's
 * section is lost.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LoadRun } from '@relaykit/contracts';
import { hasCluster } from './cluster.ts';
import { renderReport } from './render.ts';
import { hasSoak, isSoakOnly } from './soak.ts';

/**
 * Where a run's JSON goes in docs/. `soakOnly` (the runner knows it from --suites before anything
 * is measured) keeps a soak run, even one cut short, from overwriting the full run's JSON.
 */
export const docsJson = (run: LoadRun, soakOnly = isSoakOnly(run)) => (run.profile === 'cluster' ? 'load-report-cluster.json' : soakOnly ? 'load-report-soak.json' : 'load-report.json');

/** Renders `dir`/load-report.md (charts in `dir`/charts) from the run JSONs in `dir`; returns its path. */
export function renderDocs(dir: string): string {
  const read = (name: string) => (existsSync(join(dir, name)) ? LoadRun.parse(JSON.parse(readFileSync(join(dir, name), 'utf8'))) : undefined);
  const main = read('load-report.json');
  const cluster = read('load-report-cluster.json');
  const soak = read('load-report-soak.json');
  if (main) return renderReport(main, dir, 'load-report.md', join(dir, 'charts'), hasCluster(main) ? undefined : cluster, hasSoak(main) ? undefined : soak);
  if (cluster) return renderReport(cluster, dir, 'load-report.md', join(dir, 'charts'), undefined, soak);
  if (soak) return renderReport(soak, dir, 'load-report.md', join(dir, 'charts'));
  throw new Error(`no load-report.json, load-report-cluster.json or load-report-soak.json in ${dir}`);
}
