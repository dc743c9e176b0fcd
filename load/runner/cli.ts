/**
 * The runner's command line → one options object. Parsing only: nothing here starts, writes or
 * reads anything, so importing it has no side effects.
 *
 *   node runner/main.ts --profile quick|full|cluster [--ci] [--only node,bun] [--targets id,id] [--docs]
 *                       [--out DIR] [--repeats N] [--no-gate] [--connections N] [--cpu-prof DIR]
 *                       [--suites scale,throughput,churn,cluster,attacks,soak] [--transports ws,sse(,poll for soak)]
 *                       [--attacks deep-ws,topics] [--attack-gc]
 *                       [--subscribers N] [--events N] [--burst-s S] [--broker-s S]   (cluster suite scale)
 *                       [--soak-cycles N]   (soak suite: cycles per runtime × transport, a mark every N/10 up to 1,000, warm-up min(1,000, N/2))
 *                       [--build NAME=DIR ...]   (another built checkout of relaykit, run as targets NAME-node, NAME-bun, NAME-deno
 *                                                 side by side with this one, in the same run and under the same gates)
 *
 * Default suites: quick runs scale, throughput, churn, (tiny) cluster and (tiny) soak; full scale, throughput,
 * churn; cluster only the cluster suite.
 */
import { parseArgs } from 'node:util';
import type { Transport } from '../scenarios/protocols.ts';
import { PROFILES, type Profile } from './profiles.ts';
import type { SoakTransport } from './soak-cycles.ts';

export interface RunOptions {
  /** The profile with the command line's overrides applied (repeats, gates, connections, time limit). */
  profile: Profile;
  /** `scale` (the efficiency suite: connections, latency, CPU per event), `throughput`, `churn`, `cluster` (Redis, WORKERS, peers on Redis), `attacks`, `soak`. */
  suites: Set<string>;
  transports: Set<Transport>;
  /** The soak suite's transports: `--transports` given explicitly, else ws, sse and poll. */
  soakTransports: SoakTransport[];
  /** Runtimes to run (peers always run unless `targets` excludes them). */
  onlyRuntimes?: string[];
  onlyTargets?: string[];
  /** Other built checkouts to run side by side (`--build NAME=DIR`): their apps, this checkout's runtimes. */
  builds: { name: string; dir: string }[];
  /** Write the report to docs/ (load-report.md, load-report.json, charts) instead of results/. */
  docs: boolean;
  ci: boolean;
  /** Results directory; default load/results. */
  out?: string;
  /** Directory for the servers' CPU profiles. */
  cpuProf?: string;
  /** Attack ids for the attacks suite; default all. */
  attacks?: string[];
  /** Attacks suite diagnostic: forced GCs through --inspect. */
  attackGc: boolean;
}

const DEFAULT_SUITES: Record<Profile['name'], string> = {
  quick: 'scale,throughput,churn,cluster,soak',
  full: 'scale,throughput,churn',
  cluster: 'cluster',
};

function positive(flag: string, value: string): number {
  const n = Number(value);
  if (!(n > 0) || !Number.isFinite(n)) throw new Error(`${flag} must be a positive number, not ${value}`);
  return n;
}

export function parseCli(argv: string[]): RunOptions {
  const { values: args } = parseArgs({
    args: argv,
    options: {
      profile: { type: 'string', default: 'quick' },
      ci: { type: 'boolean', default: false },
      only: { type: 'string' },
      targets: { type: 'string' },
      docs: { type: 'boolean', default: false },
      out: { type: 'string' },
      repeats: { type: 'string' },
      'no-gate': { type: 'boolean', default: false },
      connections: { type: 'string' },
      'cpu-prof': { type: 'string' },
      suites: { type: 'string' },
      transports: { type: 'string' },
      attacks: { type: 'string' },
      'attack-gc': { type: 'boolean', default: false },
      subscribers: { type: 'string' },
      events: { type: 'string' },
      'burst-s': { type: 'string' },
      'broker-s': { type: 'string' },
      'soak-cycles': { type: 'string' },
      build: { type: 'string', multiple: true },
    },
  });
  const name = args.profile;
  if (name !== 'quick' && name !== 'full' && name !== 'cluster') throw new Error(`--profile must be quick, full or cluster, not ${name}`);
  const profile: Profile = { ...PROFILES[name], cluster: { ...PROFILES[name].cluster }, soak: { ...PROFILES[name].soak } };
  if (args.repeats) profile.repeats = positive('--repeats', args.repeats);
  if (args['no-gate']) profile.loadGateMs = profile.firstGateMs = 0;
  if (args.connections) profile.connections = profile.maxConnections = positive('--connections', args.connections);
  if (args.subscribers) profile.cluster.subscribers = positive('--subscribers', args.subscribers);
  if (args.events) profile.cluster.events = positive('--events', args.events);
  if (args['burst-s']) profile.cluster.burstS = positive('--burst-s', args['burst-s']);
  if (args['broker-s']) profile.cluster.brokerS = positive('--broker-s', args['broker-s']);
  if (args['soak-cycles']) {
    const cycles = Math.round(positive('--soak-cycles', args['soak-cycles']));
    // Ten blocks at most 1,000 cycles long; the first 1,000 cycles (at most half) are warm-up, left out of the slope.
    profile.soak = { ...profile.soak, cycles, every: Math.max(1, Math.min(1000, Math.round(cycles / 10))), warmup: Math.min(1000, Math.round(cycles / 2)) };
  }
  const suites = new Set((args.suites ?? DEFAULT_SUITES[name]).split(','));
  // The attacks suite starts a fresh server per attack and bounds each attack on its own (at most ~4 min).
  if (suites.has('attacks')) profile.maxLifetimeMs = Math.max(profile.maxLifetimeMs, 75 * 60_000);
  return {
    profile,
    suites,
    transports: new Set((args.transports ?? 'ws,sse').split(',').filter((t) => t !== 'poll') as Transport[]),
    soakTransports: (args.transports ?? 'ws,sse,poll').split(',').filter((t): t is SoakTransport => t === 'ws' || t === 'sse' || t === 'poll'),
    builds: (args.build ?? []).map(parseBuild),
    ...(args.only ? { onlyRuntimes: args.only.split(',') } : {}),
    ...(args.targets ? { onlyTargets: args.targets.split(',') } : {}),
    docs: args.docs,
    ci: args.ci,
    ...(args.out ? { out: args.out } : {}),
    ...(args['cpu-prof'] ? { cpuProf: args['cpu-prof'] } : {}),
    ...(args.attacks ? { attacks: args.attacks.split(',') } : {}),
    attackGc: args['attack-gc'],
  };
}

function parseBuild(value: string): { name: string; dir: string } {
  const at = value.indexOf('=');
  const name = value.slice(0, at);
  // A target id is NAME-<runtime>: `relaykit` and `bare` would collide with this checkout's own.
  if (at < 1 || !/^[a-z][a-z0-9]*$/.test(name) || name === 'relaykit' || name === 'bare' || name === 'peer') {
    throw new Error(`--build takes NAME=DIR with NAME in [a-z0-9] (not relaykit, bare or peer), not ${JSON.stringify(value)}`);
  }
  return { name, dir: value.slice(at + 1) };
}
