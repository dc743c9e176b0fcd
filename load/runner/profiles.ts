import type { SoakScale } from './suites/soak.ts';

/** The cluster suite's scale (runner/suites/cluster.ts). */
export interface ClusterScale {
  /** WebSocket subscribers of each fan-out configuration (one topic). */
  subscribers: number;
  /** Paced phase: `events` HTTP publishes at `rate`/s (p99 publish→deliver, CPU per delivered event). */
  rate: number;
  events: number;
  /** Burst phase: rounds of publishes as fast as they go, each drained before the next, for this long. */
  burstS: number;
  /** Deliveries per burst round (events per round = this / subscribers, 1–500): bounds what any connection queues. */
  burstDeliveries: number;
  /** WORKERS of the multi-process configuration, measured against WORKERS=1. */
  serverWorkers: number;
  /** Broker path: for this long, each load worker keeps `brokerConns` WebSocket publishers per instance with `brokerWindow` acks pending each. */
  brokerS: number;
  brokerConns: number;
  brokerWindow: number;
}

export interface Profile {
  name: 'quick' | 'full' | 'cluster';
  /** Load worker processes (each its own source IP and 20,000-file limit). */
  workers: number;
  /** Connections at which memory per connection and latency are measured. */
  connections: number;
  /** Connections held at the end of the scaling suite (≤ 19,500: the server's file limit). */
  maxConnections: number;
  latencyEvents: number;
  latencyRate: number;
  cpuEvents: number;
  cpuRate: number;
  holdS: number;
  settleMs: number;
  /** Repeats of the efficiency suite (memory per connection, CPU per event); the report takes the median. */
  repeats: number;
  throughputS: number;
  throughputConnsPerWorker: number;
  /** Subscriber counts of the throughput suite, one run each: the fan-out cost at a room's size and at ten times it. */
  throughputSubscribers: number[];
  churnS: number;
  churnConcurrencyPerWorker: number;
  /** Longest wait for the 1-minute load average to fall below 0.7 before a block of measurements. */
  loadGateMs: number;
  /** The same, before the first block of the run. */
  firstGateMs: number;
  /** Build Centrifugo with go install when it is not cached yet. */
  buildCentrifugo: boolean;
  maxLifetimeMs: number;
  cluster: ClusterScale;
  /** The soak suite (runner/suites/soak.ts): cycles per runtime × transport, a mark every `every`, `concurrency` at a time. */
  soak: SoakScale;
}

/** 10,000 cycles, a mark every 1,000, the slope over the last 9,000, 50 at a time (issue 9). */
const SOAK_SCALE: SoakScale = { cycles: 10_000, every: 1000, warmup: 1000, concurrency: 50 };

/** The cluster profile's scale: 5,000 subscribers per server, 3 repeats (~13 min on 2 quiet cores). */
const CLUSTER_SCALE: ClusterScale = {
  subscribers: 5000,
  rate: 5,
  events: 20,
  burstS: 5,
  burstDeliveries: 100_000,
  serverWorkers: 2,
  brokerS: 5,
  brokerConns: 4,
  brokerWindow: 32,
};

export const PROFILES: Record<Profile['name'], Profile> = {
  quick: {
    name: 'quick',
    workers: 2,
    connections: 400,
    maxConnections: 800,
    latencyEvents: 4,
    latencyRate: 4,
    cpuEvents: 20,
    cpuRate: 20,
    holdS: 1,
    settleMs: 500,
    repeats: 1,
    throughputS: 2,
    throughputConnsPerWorker: 2,
    throughputSubscribers: [20],
    churnS: 2,
    churnConcurrencyPerWorker: 8,
    loadGateMs: 0,
    firstGateMs: 0,
    buildCentrifugo: false,
    maxLifetimeMs: 20 * 60_000,
    // Tiny: the quick profile (CI) runs the cluster suite's whole code path in well under a minute.
    cluster: { subscribers: 40, rate: 10, events: 5, burstS: 0.5, burstDeliveries: 2000, serverWorkers: 2, brokerS: 1, brokerConns: 1, brokerWindow: 16 },
    // Tiny: the soak suite's code path (cycles, forced GCs, gauges), its slopes reported but not judged.
    soak: { cycles: 20, every: 10, warmup: 10, concurrency: 10 },
  },
  full: {
    name: 'full',
    workers: 4,
    connections: 10_000,
    maxConnections: 19_500,
    latencyEvents: 8,
    latencyRate: 1,
    cpuEvents: 15,
    cpuRate: 5,
    holdS: 5,
    settleMs: 2000,
    repeats: 3,
    throughputS: 5,
    throughputConnsPerWorker: 4,
    throughputSubscribers: [100, 1000],
    churnS: 5,
    churnConcurrencyPerWorker: 32,
    loadGateMs: 20_000,
    firstGateMs: 90_000,
    buildCentrifugo: true,
    maxLifetimeMs: 90 * 60_000,
    cluster: CLUSTER_SCALE,
    soak: SOAK_SCALE,
  },
  /** The cluster suite alone (`load:cluster`); the efficiency-suite fields are the full profile's and unused. */
  cluster: {
    name: 'cluster',
    workers: 4,
    connections: 10_000,
    maxConnections: 19_500,
    latencyEvents: 8,
    latencyRate: 1,
    cpuEvents: 15,
    cpuRate: 5,
    holdS: 5,
    settleMs: 1000,
    repeats: 3,
    throughputS: 5,
    throughputConnsPerWorker: 4,
    throughputSubscribers: [100],
    churnS: 5,
    churnConcurrencyPerWorker: 32,
    loadGateMs: 0,
    firstGateMs: 30_000,
    buildCentrifugo: true,
    maxLifetimeMs: 25 * 60_000,
    cluster: CLUSTER_SCALE,
    soak: SOAK_SCALE,
  },
};
