import { readFileSync } from 'node:fs';

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

/** Resident set size in KB, from /proc/PID/status. */
export function rssKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) : 0;
}

export function loadavg1(): number {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}

/** Samples a server's RSS every `everyMs` while it runs; keeps the peak. */
export class Sampler {
  peakKb = 0;
  private timer: NodeJS.Timeout;
  readonly pid: number;
  constructor(pid: number, everyMs = 250) {
    this.pid = pid;
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
  }
  sample(): number {
    try {
      const kb = rssKb(this.pid);
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
