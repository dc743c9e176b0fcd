import { z } from 'zod';

/**
 * Results of a relaykit load run (`pnpm load`), as written by load/runner and read by
 * load/report. Figures are plain numbers under documented keys so that scenarios can grow
 * without a schema change; the report names every key it reads.
 */

export const LoadTargetKind = z.enum(['relaykit', 'bare', 'peer']);
export type LoadTargetKind = z.infer<typeof LoadTargetKind>;

export const LoadTarget = z
  .object({
    id: z.string().describe('e.g. relaykit-node, bare-bun, peer-socketio'),
    runtime: z.string().describe('node, bun, deno, or go for Centrifugo'),
    kind: LoadTargetKind,
    label: z.string(),
    protocol: z.string().describe('relaykit, socket.io or centrifugo'),
    transports: z.array(z.enum(['ws', 'sse'])),
    version: z.string().describe('Runtime (and library) version actually started'),
    skipped: z.string().optional().describe('Why this target did not run, when it did not'),
  })
  .strict();
export type LoadTarget = z.infer<typeof LoadTarget>;

export const LoadScenario = z.enum(['connections', 'latency', 'cpu', 'throughput', 'churn', 'attack', 'cluster', 'broker', 'soak']);
export type LoadScenario = z.infer<typeof LoadScenario>;

export const LoadMeasurement = z
  .object({
    target: z.string(),
    scenario: LoadScenario,
    transport: z.enum(['ws', 'sse', 'poll', 'http']).describe('poll: long polling (the soak suite); http: HTTP publishes (attacks)'),
    repeat: z.number().int().positive(),
    startedAt: z.string(),
    durationS: z.number().nonnegative(),
    loadavg1: z.number().nonnegative().describe('1-minute load average when the measurement started'),
    params: z.record(z.string(), z.union([z.number(), z.string(), z.boolean()])),
    /**
     * connections: connected, kbPerConn (RSS delta per connection at `n`), rssIdleKb, rssKb, heldS;
     * latency: subscribers, events, delivered, expected, p50Ms, p90Ms, p99Ms, p999Ms, maxMs;
     * cpu: subscribers, delivered, serverCpuMs, usPerEvent; throughput: ackedPerS, deliveredPerS,
     * usPerPublish; churn: cyclesPerS, p50Ms, p99Ms, rssBeforeKb, rssAfterKb; cluster (params
     * `broker` memory|redis, `workers`): connected, kbPerConn, p50Ms, p99Ms, usPerEvent,
     * deliveredPerS, redisUsPerPublish, burstDeliveredPerS, burstUsPerEvent; broker (topics without
     * subscribers, publishes spread over the instances): ackedPerS, usPerPublish, redisUsPerPublish;
     * soak: cycles, completed, cyclesPerS, p50Ms, p99Ms, heapSlopeKbPer1k, rssSlopeKbPer1k (least
     * squares after the first block), heapLimitKbPer1k, rssLimitKbPer1k, connectionsAfter, and the
     * series `rssKb@<cycles>` and `heapKb@<cycles>` (V8 used heap after forced GCs; absent on Bun).
     * Server CPU of a WORKERS > 1 server is its whole process tree.
     */
    figures: z.record(z.string(), z.number()),
    errors: z.record(z.string(), z.number()).describe('Error counters; all must be 0'),
    server: z
      .object({ pid: z.number().int(), cpuMs: z.number(), cpuCores: z.number(), rssPeakKb: z.number() })
      .strict(),
    driver: z
      .object({
        workers: z.number().int(),
        cpuMs: z.number(),
        cpuCores: z.number().describe('Average cores the load workers used; near 2 - server means a saturated driver'),
      })
      .strict(),
  })
  .strict();
export type LoadMeasurement = z.infer<typeof LoadMeasurement>;

export const LoadRun = z
  .object({
    schemaVersion: z.literal(1),
    profile: z.enum(['quick', 'full', 'cluster']),
    startedAt: z.string(),
    finishedAt: z.string(),
    machine: z
      .object({
        cpuModel: z.string(),
        cpus: z.number().int(),
        memGiB: z.number(),
        kernel: z.string(),
        openFilesLimit: z.number().int(),
        loadavgAtStart: z.array(z.number()),
      })
      .strict(),
    runtimes: z.record(z.string(), z.object({ version: z.string(), engine: z.string() }).strict()),
    limits: z
      .object({ connectionsPerServer: z.number().int(), note: z.string() })
      .strict()
      .describe('What the machine allowed: one process holds at most ~19,900 open files'),
    targets: z.array(LoadTarget),
    measurements: z.array(LoadMeasurement),
    notes: z.array(z.string()),
    errors: z.array(z.string()).describe('Failures of the run itself (a server that did not start...)'),
  })
  .strict();
export type LoadRun = z.infer<typeof LoadRun>;
