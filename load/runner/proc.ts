import { readFileSync, readdirSync } from 'node:fs';

const TICK_MS = 10; // USER_HZ is 100 on Linux x86-64

/** utime+stime of a process in ms, from /proc/PID/stat. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

/** cpuMs, or 0 when the process is gone. */
export function safeCpuMs(pid: number): number {
  try {
    return cpuMs(pid);
  } catch {
    return 0;
  }
}

/**
 * CPU time of a process to the nanosecond, ms: the scheduler's run time of each of its live threads
 * (/proc/PID/task/TID/schedstat, first field), where /proc/PID/stat counts 10 ms ticks. For a
 * process that does a few ms of work in a phase (Redis under a paced fan-out); falls back to cpuMs.
 */
export function schedCpuMs(pid: number): number {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {}
    }
    return ns / 1e6;
  } catch {
    return safeCpuMs(pid);
  }
}

/** Resident set size in KB, from /proc/PID/status. */
export function rssKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) : 0;
}

/**
 * `pid` and every live descendant, from /proc/PID/task/TID/children of every thread (a runtime
 * may spawn from any thread: Deno's Command runs on a Tokio worker).
 */
export function treePids(pid: number): number[] {
  const out: number[] = [];
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop()!;
    out.push(p);
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${p}/task`);
    } catch {
      continue;
    }
    for (const tid of tasks) {
      try {
        for (const child of readFileSync(`/proc/${p}/task/${tid}/children`, 'utf8').split(' ')) if (child.trim()) stack.push(Number(child));
      } catch {}
    }
  }
  return out;
}

/** utime+stime of `pid` and its live descendants (a WORKERS > 1 server: supervisor and workers), ms. */
export function treeCpuMs(pid: number): number {
  return treePids(pid).reduce((sum, p) => sum + safeCpuMs(p), 0);
}

/** VmRSS of `pid` and its live descendants, KB (pages shared between them count once per process). */
export function treeRssKb(pid: number): number {
  let kb = 0;
  for (const p of treePids(pid)) {
    try {
      kb += rssKb(p);
    } catch {}
  }
  return kb;
}

export function loadavg1(): number {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}

/** Samples a server's RSS (with `tree`, its whole process tree's) every `everyMs` while it runs; keeps the peak. */
export class Sampler {
  peakKb = 0;
  private timer: NodeJS.Timeout;
  readonly pid: number;
  private readonly tree: boolean;
  constructor(pid: number, everyMs = 250, tree = false) {
    this.pid = pid;
    this.tree = tree;
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
  }
  sample(): number {
    try {
      const kb = this.tree ? treeRssKb(this.pid) : rssKb(this.pid);
      if (kb > this.peakKb) this.peakKb = kb;
      return kb;
    } catch {
      return 0;
    }
  }
  stop(): void {
    clearInterval(this.timer);
  }
}
