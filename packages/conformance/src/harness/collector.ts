/** Waiting on what arrives: every client in the harness collects into one of these. */

/** Generous: the machine may be loaded. Cases assert order and content, never speed. */
export const WAIT_MS = 10_000;

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Collects items and lets a case wait until the collection satisfies a condition. */
export class Collector<T> {
  readonly items: T[] = [];
  private waiters: Array<() => void> = [];

  push(item: T): void {
    this.items.push(item);
    this.notify();
  }

  notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  async until(condition: (items: T[]) => boolean, what: string, timeoutMs = WAIT_MS): Promise<T[]> {
    const deadline = Date.now() + timeoutMs;
    while (!condition(this.items)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; have ${describe(this.items)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 250));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.items;
  }

  /** Waits for the first item matching `match` at or after index `from`. */
  async find<U extends T>(match: (item: T) => item is U, what: string, timeoutMs?: number): Promise<U>;
  async find(match: (item: T) => boolean, what: string, timeoutMs?: number): Promise<T>;
  async find(match: (item: T) => boolean, what: string, timeoutMs = WAIT_MS): Promise<T> {
    await this.until((items) => items.some(match), what, timeoutMs);
    return this.items.find(match)!;
  }
}

function describe(items: unknown[]): string {
  const text = JSON.stringify(items.slice(-8));
  return `${items.length} item(s)${items.length > 8 ? ', last 8' : ''}: ${text.length > 1500 ? `${text.slice(0, 1500)}...` : text}`;
}
