import type { Logger } from './log.js';

/** One worker process as the supervisor sees it, whatever the runtime's process API. */
export interface WorkerProcess {
  readonly exited: Promise<number>;
  kill(signal: 'SIGTERM' | 'SIGKILL'): void;
}

export interface WorkerPlan {
  count: number;
  /** Starts one more process of this same server with `env` added (RELAYKIT_WORKER, PORT). */
  spawn(env: Record<string, string>): WorkerProcess;
  port: number;
  log: Logger;
  graceMs: number;
  exit(code: number): void;
}

/** Set in a worker's environment; a process that has it serves instead of supervising. */
export const WORKER_ENV = 'RELAYKIT_WORKER';

const RESTART_WINDOW_MS = 60_000;
const MAX_RESTARTS_IN_WINDOW = 5;

/**
 * WORKERS=N: this process starts N processes of the same server on one port (each listens with
 * SO_REUSEPORT, so the kernel spreads connections over them) and watches them. A worker that dies
 * is started again, up to 5 times a minute; after that the whole server stops, since something
 * is wrong that restarting will not fix. Every worker reaches the same broker (Redis), so a
 * client may reconnect to any of them and resume. Returns the signal handler to register.
 */
export function superviseWorkers(plan: WorkerPlan): (signal: string) => void {
  const running = new Set<WorkerProcess>();
  const restarts: number[] = [];
  let stopping = false;

  const start = (index: number): void => {
    const worker = plan.spawn({ [WORKER_ENV]: String(index), PORT: String(plan.port) });
    running.add(worker);
    void worker.exited.then((code) => {
      running.delete(worker);
      if (stopping) {
        if (running.size === 0) plan.exit(0);
        return;
      }
      const now = Date.now();
      while (restarts.length > 0 && restarts[0]! < now - RESTART_WINDOW_MS) restarts.shift();
      if (restarts.length >= MAX_RESTARTS_IN_WINDOW) {
        plan.log.error('workers keep dying; stopping', { worker: index, code, restarts: restarts.length });
        stop('worker restarts exhausted');
        return;
      }
      restarts.push(now);
      plan.log.warn('worker exited; starting it again', { worker: index, code });
      start(index);
    });
  };

  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    plan.log.info('stopping workers', { signal, workers: running.size });
    for (const worker of running) worker.kill('SIGTERM');
    const timer = setTimeout(() => {
      for (const worker of running) worker.kill('SIGKILL');
      plan.exit(0);
    }, plan.graceMs + 2000);
    (timer as { unref?: () => void }).unref?.();
    if (running.size === 0) plan.exit(0);
  };

  plan.log.info('starting workers', { workers: plan.count, port: plan.port });
  for (let index = 1; index <= plan.count; index++) start(index);
  return stop;
}
