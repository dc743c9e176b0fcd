/**
 * A load worker process: runs scenario modules with the Node adapter on the runner's command
 * (IPC), reports counters, latency histograms and its own CPU. Bounded: it exits when the runner goes
 * away or after --max-lifetime-ms.
 */
import { churn, publisher, subscribers, throughput } from '../scenarios/index.ts';
import type { LoadEnv } from '../scenarios/env.ts';
import { Metrics, createNodeEnv } from './node-env.ts';
import type { ToWorker } from './messages.ts';

const localAddress = process.env.LOAD_LOCAL_ADDRESS || undefined;
const maxLifetimeMs = Number(process.env.LOAD_MAX_LIFETIME_MS ?? 3_600_000);
setTimeout(() => process.exit(3), maxLifetimeMs).unref();
process.on('disconnect', () => process.exit(0));

const metrics = new Metrics();
const stops = new Map<number, () => void>();
const scenarios: Record<string, (env: LoadEnv, params: never) => Promise<void>> = {
  subscribers,
  publisher,
  throughput,
  churn,
};

function send(message: unknown): void {
  process.send?.(message);
}

process.on('message', (msg: ToWorker) => {
  switch (msg.cmd) {
    case 'run': {
      const scenario = scenarios[msg.scenario];
      if (!scenario) {
        send({ ev: 'done', id: msg.id, error: `unknown scenario ${msg.scenario}` });
        return;
      }
      const stopped = new Promise<void>((resolve) => stops.set(msg.id, resolve));
      const env = createNodeEnv({
        metrics,
        ...((msg.localAddress ?? localAddress) ? { localAddress: msg.localAddress ?? localAddress } : {}),
        onReady: (label) => send({ ev: 'ready', id: msg.id, label }),
        stopped,
      });
      scenario(env, msg.params as never).then(
        () => send({ ev: 'done', id: msg.id }),
        (error: unknown) => send({ ev: 'done', id: msg.id, error: String((error as Error)?.stack ?? error) }),
      );
      return;
    }
    case 'stop':
      stops.get(msg.id)?.();
      stops.delete(msg.id);
      return;
    case 'snapshot': {
      const cpu = process.cpuUsage();
      const taken = metrics.take(msg.reset, msg.trends);
      send({ ev: 'snapshot', seq: msg.seq, ...taken, cpuUs: cpu.user + cpu.system });
      return;
    }
    case 'exit':
      process.exit(0);
  }
});
send({ ev: 'hello', pid: process.pid });
