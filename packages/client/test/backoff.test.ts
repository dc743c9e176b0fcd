import { describe, expect, test } from 'vitest';
import { backoffDelay } from '../src/backoff.ts';

describe('backoffDelay', () => {
  test('doubles per attempt, with jitter between half and all of the step', () => {
    for (let attempt = 1; attempt <= 6; attempt++) {
      const step = 500 * 2 ** (attempt - 1);
      expect(backoffDelay(attempt, {}, () => 0)).toBe(step / 2);
      expect(backoffDelay(attempt, {}, () => 1)).toBe(step);
      const d = backoffDelay(attempt);
      expect(d).toBeGreaterThanOrEqual(step / 2);
      expect(d).toBeLessThanOrEqual(step);
    }
  });

  test('is capped at 30 s however many attempts', () => {
    for (const attempt of [7, 10, 50, 1000, Number.MAX_SAFE_INTEGER]) {
      expect(backoffDelay(attempt, {}, () => 1)).toBe(30_000);
      expect(backoffDelay(attempt, {}, () => 0)).toBe(15_000);
    }
  });

  test('spreads a crowd of clients', () => {
    const delays = new Set(Array.from({ length: 50 }, () => backoffDelay(5)));
    expect(delays.size).toBeGreaterThan(10);
  });

  test('takes its base and cap from options; attempt 0 or less counts as the first', () => {
    expect(backoffDelay(1, { baseMs: 100 }, () => 1)).toBe(100);
    expect(backoffDelay(4, { baseMs: 100, maxMs: 300 }, () => 1)).toBe(300);
    expect(backoffDelay(0, {}, () => 1)).toBe(500);
  });
});
