import type { Logger } from './log.js';

export interface ShutdownPlan {
  log: Logger;
  graceMs: number;
  /** Closes every connection the relay holds (Relay.shutdown). */
  closeSessions(): Promise<void>;
  /** Stops accepting and resolves once in-flight requests are done. */
  stopListening(): Promise<void>;
  /** The runtime's exit. */
  exit(code: number): void;
}

/**
 * The one shutdown sequence every app runs on SIGTERM or SIGINT: log, close the relay's sessions
 * (WebSockets get relaykit's 1001, SSE streams end), stop listening, and exit 0 once the server
 * is idle or the grace period is over, whichever comes first. Runs once, however many signals come.
 * Returns the function the app registers as its signal handler.
 */
export function shutdownOnce(plan: ShutdownPlan): (signal: string) => void {
  let stopping = false;
  return (signal) => {
    if (stopping) return;
    stopping = true;
    plan.log.info('shutting down', { signal, graceMs: plan.graceMs });
    const timer = setTimeout(() => plan.exit(0), plan.graceMs);
    (timer as { unref?: () => void }).unref?.();
    void (async () => {
      try {
        await plan.closeSessions();
        await plan.stopListening();
      } catch (error) {
        plan.log.error('shutdown failed', { error });
      }
      plan.exit(0);
    })();
  };
}
