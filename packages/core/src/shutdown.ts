import type { Logger } from './log.js';

export interface ShutdownPlan {
  log: Logger;
  graceMs: number;
  /**
   * Refuses new connections and ends the open ones while the listener stays open (Relay.drain);
   * resolves once nothing is left to wait for.
   */
  drain(): Promise<void>;
  /** After the drain: stops listening and disconnects the broker. */
  close(): Promise<void>;
  /** The runtime's exit. */
  exit(code: number): void;
}

/**
 * The one shutdown sequence every app runs on SIGTERM or SIGINT: log, drain (new work refused with
 * 503 shutting_down and /healthz draining, open connections told to go, the listener still open),
 * then stop listening, close the broker and exit 0; at SHUTDOWN_GRACE_MS it exits 0 whatever is
 * still open. Runs once, however many signals come. Returns the function the app registers as its
 * signal handler.
 */
export function shutdownOnce(plan: ShutdownPlan): (signal: string) => void {
  let stopping = false;
  return (signal) => {
    if (stopping) return;
    stopping = true;
    plan.log.info('shutting down', { signal, graceMs: plan.graceMs });
    const timer = setTimeout(() => {
      plan.log.info('shutdown grace period over; exiting with connections still open', { graceMs: plan.graceMs });
      plan.exit(0);
    }, plan.graceMs);
    (timer as { unref?: () => void }).unref?.();
    void (async () => {
      try {
        await plan.drain();
        await plan.close();
      } catch (error) {
        plan.log.error('shutdown failed', { error });
      }
      plan.exit(0);
    })();
  };
}
