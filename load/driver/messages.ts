import type { EncodedHistogram } from './histogram.ts';

export type ToWorker =
  | { cmd: 'run'; id: number; scenario: string; params: unknown; localAddress?: string }
  | { cmd: 'stop'; id: number }
  | { cmd: 'snapshot'; seq: number; reset: boolean; trends: boolean }
  | { cmd: 'exit' };

export type FromWorker =
  | { ev: 'hello'; pid: number }
  | { ev: 'ready'; id: number; label: string }
  | { ev: 'done'; id: number; error?: string }
  | { ev: 'snapshot'; seq: number; counters: Record<string, number>; trends: Record<string, EncodedHistogram>; cpuUs: number };
