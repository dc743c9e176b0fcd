export interface Profile {
  name: 'quick' | 'full';
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
  throughputSubscribers: number;
  churnS: number;
  churnConcurrencyPerWorker: number;
  /** Longest wait for the 1-minute load average to fall below 0.7 before a block of measurements. */
  loadGateMs: number;
  /** The same, before the first block of the run. */
  firstGateMs: number;
  /** Build Centrifugo with go install when it is not cached yet. */
  buildCentrifugo: boolean;
  maxLifetimeMs: number;
}

export const PROFILES: Record<'quick' | 'full', Profile> = {
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
    throughputSubscribers: 20,
    churnS: 2,
    churnConcurrencyPerWorker: 8,
    loadGateMs: 0,
    firstGateMs: 0,
    buildCentrifugo: false,
    maxLifetimeMs: 20 * 60_000,
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
    throughputSubscribers: 100,
    churnS: 5,
    churnConcurrencyPerWorker: 32,
    loadGateMs: 20_000,
    firstGateMs: 90_000,
    buildCentrifugo: true,
    maxLifetimeMs: 90 * 60_000,
  },
};
