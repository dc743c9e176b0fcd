import type { ConnectionTransport, HistoryStats } from '@relaykit/contracts';

/** Counters and gauges kept as plain numbers: incrementing them is on the per-event hot path. */
export class Metrics {
  readonly connections: Record<ConnectionTransport, number> = { sse: 0, ws: 0, poll: 0 };
  published = 0;
  duplicates = 0;
  delivered = 0;
  slowConsumerCloses = 0;
  heartbeatTimeouts = 0;
  rejected = 0;
  rateLimited = 0;
  /** HTTP requests being served, streams aside (they are connections): what a shutdown's drain waits for besides them. */
  requestsInFlight = 0;
  readonly startedAt = Date.now();

  constructor(
    private readonly topicsWithSubscribers: () => number,
    private readonly historyStats: () => HistoryStats = () => ({ histories: 0, bytes: 0 }),
  ) {}

  get openConnections(): number {
    return this.connections.sse + this.connections.ws + this.connections.poll;
  }

  /** Prometheus text exposition format 0.0.4. */
  render(): string {
    const history = this.historyStats();
    const lines = [
      '# HELP relaykit_connections Open connections by transport.',
      '# TYPE relaykit_connections gauge',
      ...(['sse', 'ws', 'poll'] as const).map((t) => `relaykit_connections{transport="${t}"} ${this.connections[t]}`),
      '# HELP relaykit_requests_in_flight HTTP requests being served (this one included), streams aside; a shutdown drains them.',
      '# TYPE relaykit_requests_in_flight gauge',
      `relaykit_requests_in_flight ${this.requestsInFlight}`,
      '# HELP relaykit_topics Topics with at least one subscriber in this process.',
      '# TYPE relaykit_topics gauge',
      `relaykit_topics ${this.topicsWithSubscribers()}`,
      '# HELP relaykit_histories Topic histories held in this process (bounded by MAX_HISTORIES).',
      '# TYPE relaykit_histories gauge',
      `relaykit_histories ${history.histories}`,
      '# HELP relaykit_history_bytes Envelope bytes the histories hold (bounded by HISTORY_MAX_BYTES).',
      '# TYPE relaykit_history_bytes gauge',
      `relaykit_history_bytes ${history.bytes}`,
      '# HELP relaykit_events_published_total Events accepted from publishers (duplicates excluded).',
      '# TYPE relaykit_events_published_total counter',
      `relaykit_events_published_total ${this.published}`,
      '# HELP relaykit_events_duplicate_total Publishes answered from the idempotency keys, not delivered again.',
      '# TYPE relaykit_events_duplicate_total counter',
      `relaykit_events_duplicate_total ${this.duplicates}`,
      '# HELP relaykit_events_delivered_total Events handed to subscribers (one per subscriber).',
      '# TYPE relaykit_events_delivered_total counter',
      `relaykit_events_delivered_total ${this.delivered}`,
      '# HELP relaykit_slow_consumer_closes_total Connections closed because their send buffer outgrew MAX_BUFFERED_BYTES.',
      '# TYPE relaykit_slow_consumer_closes_total counter',
      `relaykit_slow_consumer_closes_total ${this.slowConsumerCloses}`,
      '# HELP relaykit_heartbeat_timeouts_total WebSocket peers terminated for not answering pings.',
      '# TYPE relaykit_heartbeat_timeouts_total counter',
      `relaykit_heartbeat_timeouts_total ${this.heartbeatTimeouts}`,
      '# HELP relaykit_rejected_total Requests and frames rejected with an error.',
      '# TYPE relaykit_rejected_total counter',
      `relaykit_rejected_total ${this.rejected}`,
      '# HELP relaykit_rate_limited_total Requests and frames refused with rate_limited (also counted in relaykit_rejected_total).',
      '# TYPE relaykit_rate_limited_total counter',
      `relaykit_rate_limited_total ${this.rateLimited}`,
      '# HELP relaykit_uptime_seconds Seconds since the server started.',
      '# TYPE relaykit_uptime_seconds gauge',
      `relaykit_uptime_seconds ${((Date.now() - this.startedAt) / 1000).toFixed(3)}`,
    ];
    return `${lines.join('\n')}\n`;
  }
}
