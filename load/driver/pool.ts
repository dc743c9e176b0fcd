import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type LatencyHistogram, mergeEncoded } from './histogram.ts';
import type { FromWorker, ToWorker } from './messages.ts';

const WORKER = fileURLToPath(new URL('./worker.ts', import.meta.url));

export interface Snapshot {
  counters: Record<string, number>;
  /** The workers' latency histograms, merged (empty unless the snapshot asked for trends). */
  trends: Record<string, LatencyHistogram>;
  /** CPU time all workers used since the previous snapshot, µs. */
  cpuUs: number;
}

interface Worker {
  child: ChildProcess;
  localAddress: string;
  lastCpuUs: number;
}

export interface RunHandle {
  /** Resolves when every worker's scenario reported `label`. */
  ready(label: string): Promise<void>;
  done: Promise<void>;
  stop(): void;
}

/**
 * Load worker processes, each with its own source address on 127.0.0.0/8 (its own ~28k ephemeral
 * ports) and its own 20,000-file limit.
 */
export class WorkerPool {
  private workers: Worker[] = [];
  private nextId = 1;
  private seq = 0;
  private listeners = new Set<(w: number, msg: FromWorker) => void>();
  /** Source addresses rotate per run (127.0.<block>.<2+worker>) so TIME_WAIT ports of one suite never crowd the next. */
  private block = 0;

  static async start(count: number, maxLifetimeMs: number): Promise<WorkerPool> {
    const pool = new WorkerPool();
    await Promise.all(Array.from({ length: count }, (_, i) => pool.spawn(i, maxLifetimeMs)));
    return pool;
  }

  get size(): number {
    return this.workers.length;
  }

  pids(): number[] {
    return this.workers.map((w) => w.child.pid ?? 0);
  }

  private spawn(i: number, maxLifetimeMs: number): Promise<void> {
    const localAddress = `127.0.0.${2 + i}`;
    const child = fork(WORKER, [], {
      env: { ...process.env, LOAD_LOCAL_ADDRESS: localAddress, LOAD_MAX_LIFETIME_MS: String(maxLifetimeMs) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      execArgv: ['--max-old-space-size=4096'],
    });
    const worker: Worker = { child, localAddress, lastCpuUs: 0 };
    this.workers[i] = worker;
    child.on('message', (msg: FromWorker) => {
      for (const l of this.listeners) l(i, msg);
    });
    child.on('exit', (code) => {
      if (code !== 0 && code !== null) console.error(`load worker ${i} exited with ${code}`);
    });
    return new Promise((resolve, reject) => {
      const off = this.on((w, msg) => {
        if (w === i && msg.ev === 'hello') {
          off();
          resolve();
        }
      });
      child.once('error', reject);
    });
  }

  private on(listener: (w: number, msg: FromWorker) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private send(i: number, msg: ToWorker): void {
    this.workers[i]?.child.send(msg);
  }

  /** Runs `scenario` on the given workers (index → params); the others stay idle. */
  run(scenario: string, params: Map<number, unknown>): RunHandle {
    const id = this.nextId++;
    const readyCount = new Map<string, number>();
    const readyWaiters = new Map<string, () => void>();
    const errors: string[] = [];
    let remaining = params.size;
    let finish!: () => void;
    let fail!: (e: Error) => void;
    const done = new Promise<void>((resolve, reject) => {
      finish = resolve;
      fail = reject;
    });
    const off = this.on((_w, msg) => {
      if (msg.ev === 'ready' && msg.id === id) {
        const n = (readyCount.get(msg.label) ?? 0) + 1;
        readyCount.set(msg.label, n);
        if (n === params.size) readyWaiters.get(msg.label)?.();
      } else if (msg.ev === 'done' && msg.id === id) {
        if (msg.error) errors.push(msg.error);
        if (--remaining === 0) {
          off();
          if (errors.length) fail(new Error(errors.join('\n')));
          else finish();
        }
      }
    });
    const block = 1 + (this.block++ % 200);
    for (const [i, p] of params) this.send(i, { cmd: 'run', id, scenario, params: p, localAddress: `127.0.${block}.${2 + i}` });
    return {
      ready: (label) =>
        new Promise<void>((resolve) => {
          if ((readyCount.get(label) ?? 0) >= params.size) resolve();
          else readyWaiters.set(label, resolve);
        }),
      done,
      stop: () => {
        for (const i of params.keys()) this.send(i, { cmd: 'stop', id });
      },
    };
  }

  /** Counters and (merged) latency histograms of every worker since the last reset, and their CPU since the last snapshot. */
  async snapshot(reset: boolean, trends = reset): Promise<Snapshot> {
    const seq = ++this.seq;
    const parts = await new Promise<Array<FromWorker & { ev: 'snapshot' }>>((resolve) => {
      const got: Array<FromWorker & { ev: 'snapshot' }> = [];
      const off = this.on((w, msg) => {
        if (msg.ev === 'snapshot' && msg.seq === seq) {
          const worker = this.workers[w]!;
          got.push({ ...msg, cpuUs: msg.cpuUs - worker.lastCpuUs });
          worker.lastCpuUs = msg.cpuUs;
          if (got.length === this.workers.length) {
            off();
            resolve(got);
          }
        }
      });
      for (let i = 0; i < this.workers.length; i++) this.send(i, { cmd: 'snapshot', seq, reset, trends });
    });
    const out: Snapshot = { counters: {}, trends: {}, cpuUs: 0 };
    for (const part of parts) {
      out.cpuUs += part.cpuUs;
      for (const [k, v] of Object.entries(part.counters)) out.counters[k] = (out.counters[k] ?? 0) + v;
      mergeEncoded(out.trends, part.trends);
    }
    return out;
  }

  async close(): Promise<void> {
    await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.child.exitCode !== null) return resolve();
            const timer = setTimeout(() => {
              w.child.kill('SIGKILL');
              resolve();
            }, 3000);
            w.child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            w.child.send({ cmd: 'exit' } satisfies ToWorker);
          }),
      ),
    );
  }
}
