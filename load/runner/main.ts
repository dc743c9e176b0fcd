/**
 * The load runner: starts each target (relaykit app, bare baseline, peer) one at a time on
 * loopback, drives it with the shared scenarios through load worker processes, samples the
 * server's RSS and CPU from /proc, and writes a LoadRun JSON (schema in @relaykit/contracts).
 * Everything is bounded in count and time and stops by itself.
 *
 *   node runner/main.ts --profile quick|full [--ci] [--only node,bun] [--targets id,id] [--docs]
 *   node runner/main.ts --profile cluster [--subscribers N] [--repeats N] [--docs]   (runner/suites/cluster.ts)
 *   node runner/main.ts --suites attacks [--only deno] [--attacks deep-ws,topics]   (issue 8: runner/suites/attacks.ts)
 *   node runner/main.ts --suites soak [--only node] [--transports ws,sse,poll] [--soak-cycles N]   (issue 9: runner/suites/soak.ts)
 *
 * This file only orders the suites: cli.ts parses the command line, run-state.ts keeps the run
 * record, its log and its end, and runner/suites/ holds one module per suite.
 */
import { WorkerPool } from '../driver/pool.ts';
import { type RunOptions, parseCli } from './cli.ts';
import { RunState } from './run-state.ts';
import { attackSuite } from './suites/attacks.ts';
import { startRedis } from './redis.ts';
import { churnSuite } from './suites/churn.ts';
import { clusterSuite } from './suites/cluster.ts';
import { connectionsSuite } from './suites/connections.ts';
import type { SuiteEnv } from './suites/context.ts';
import { soakSuite } from './suites/soak.ts';
import { throughputSuite } from './suites/throughput.ts';
import { type TargetDef, selectTargets } from './targets.ts';

async function main(options: RunOptions, state: RunState): Promise<number> {
  const { profile, suites, transports } = options;
  // The cluster suite alone measures only what runs on Redis (relaykit and the peers, no bare baseline).
  const clusterOnly = [...suites].every((s) => s === 'cluster');
  // The soak suite alone runs only relaykit's servers (no baseline or peer to build or start).
  const soakOnly = [...suites].every((s) => s === 'soak');
  const defs = selectTargets(options).filter((d) => (!clusterOnly || d.supports.redis) && (!soakOnly || d.kind === 'relaykit'));
  state.log(`relaykit load, ${profile.name} profile: ${defs.map((d) => d.id).join(', ')}`);
  const { machine } = state.run;
  state.log(`machine: ${machine.cpus} × ${machine.cpuModel}, ${machine.memGiB} GiB, open files ${machine.openFilesLimit}; ${Object.values(state.versions).map((v) => v.version).join(', ')}`);
  const available = state.addTargets(defs);
  state.checkProvenance();
  state.save();
  const pool = await WorkerPool.start(profile.workers, profile.maxLifetimeMs);
  state.limitTime(profile.maxLifetimeMs);
  const env: SuiteEnv = { state, profile, pool };
  let attackFailures = 0;
  try {
    const byRuntime = (rt: string) => available.filter((d) => d.runtime === rt && d.kind !== 'peer');
    const peers = available.filter((d) => d.kind === 'peer');
    // Repeat 1 of everything first (runtimes, then peers, throughput and churn), then the further
    // repeats of the efficiency suite: a run cut short still has every scenario once.
    for (let rep = 1; rep <= profile.repeats; rep++) {
      for (const rt of ['node', 'bun', 'deno']) {
        const group = byRuntime(rt);
        if (!group.length || !suites.has('scale')) continue;
        const load = await state.gate(`${rt} #${rep}`);
        for (const transport of ['ws', 'sse'] as const)
          for (const def of group) if (transports.has(transport)) await connectionsSuite(env, def, transport, rep, load);
      }
      if (rep !== 1) continue;
      if (peers.length && suites.has('scale') && transports.has('ws')) {
        const load = await state.gate('peers');
        for (const def of peers) await connectionsSuite(env, def, 'ws', rep, load);
      }
      if (suites.has('throughput') || suites.has('churn')) {
        const load = await state.gate('throughput and churn');
        if (suites.has('throughput')) for (const def of available) if (def.protocol === 'relaykit') for (const transport of ['ws', 'sse'] as const) if (transports.has(transport) && def.transports.includes(transport)) await throughputSuite(env, def, transport, load);
        if (suites.has('churn'))
          for (const def of available) for (const transport of def.transports) if (transports.has(transport)) await churnSuite(env, def, transport, load);
      }
    }
    if (suites.has('cluster')) {
      const redis = await startRedis().catch((error: Error) => void state.error(`cluster suite not run: ${error.message}`));
      if (redis) {
        state.running.add(redis);
        state.note(`Cluster suite: ${redis.version} (redis-server on 127.0.0.1, no persistence), one for the whole suite; every configuration has its own key prefix.`);
        try {
          await clusterSuite(env, available, redis);
        } finally {
          await redis.stop();
          state.running.delete(redis);
        }
      }
    }
    if (suites.has('attacks')) {
      const relaykit: TargetDef[] = available.filter((d) => d.kind === 'relaykit');
      attackFailures = await attackSuite(state, relaykit, { ...(options.attacks ? { only: options.attacks } : {}), gc: options.attackGc });
    }
    if (suites.has('soak')) await soakSuite(state, available.filter((d) => d.kind === 'relaykit'), options.soakTransports, profile.soak);
  } finally {
    await pool.close();
  }
  return state.finish(attackFailures);
}

const options = parseCli(process.argv.slice(2));
if (options.cpuProf) process.env.RELAYKIT_LOAD_CPU_PROF = options.cpuProf;
const state = new RunState(options);
state.stopOnSignals();
main(options, state).then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    state.save();
    process.exit(1);
  },
);
