import { describe, expect, test } from 'vitest';
import { UrlRotation, clusterUrls } from '../src/urls.ts';

const three = ['http://a', 'http://b', 'http://c'];

describe('clusterUrls', () => {
  test('one URL, a list, or the page origin; trailing slashes cut, duplicates dropped', () => {
    expect(clusterUrls('http://a/', undefined)).toEqual(['http://a']);
    expect(clusterUrls(['http://a', 'http://b//', 'http://a/'], undefined)).toEqual(['http://a', 'http://b']);
    expect(clusterUrls(undefined, 'https://page.test')).toEqual(['https://page.test']);
  });
  test('nothing to connect to is a clear error', () => {
    expect(() => clusterUrls(undefined, undefined)).toThrow(/give `url`/);
    expect(() => clusterUrls([], 'https://page.test')).toThrow(/non-empty list/);
    expect(() => clusterUrls(['http://a', '/'], undefined)).toThrow(/give `url`/);
  });
});

describe('UrlRotation', () => {
  test('starts at a random URL (spreading clients over the instances)', () => {
    expect(new UrlRotation(three, () => 0).current).toBe('http://a');
    expect(new UrlRotation(three, () => 0.5).current).toBe('http://b');
    expect(new UrlRotation(three, () => 0.99).current).toBe('http://c');
    expect(new UrlRotation(three, () => 1).current).toBe('http://c'); // a random() that reaches 1 stays in range
    expect(new UrlRotation(['http://only'], () => 0.7).current).toBe('http://only');
  });

  test('moves to the next URL on every failure, wrapping; backs off only after a full round', () => {
    const rotation = new UrlRotation(three, () => 0.5);
    const seen: [string, number][] = [];
    for (let failures = 1; failures <= 7; failures++) {
      rotation.advance();
      seen.push([rotation.current, rotation.fullRounds(failures)]);
    }
    expect(seen).toEqual([
      ['http://c', 0],
      ['http://a', 0],
      ['http://b', 1],
      ['http://c', 0],
      ['http://a', 0],
      ['http://b', 2],
      ['http://c', 0],
    ]);
  });

  test('with one URL every failure is a full round (plain reconnect backoff)', () => {
    const rotation = new UrlRotation(['http://only'], Math.random);
    expect([1, 2, 3].map((n) => rotation.fullRounds(n))).toEqual([1, 2, 3]);
    rotation.advance();
    expect(rotation.current).toBe('http://only');
  });

  test('a publish that failed on one URL is retried on the next', () => {
    const rotation = new UrlRotation(three, () => 0);
    expect(rotation.after('http://a')).toBe('http://b');
    expect(rotation.after('http://c')).toBe('http://a');
  });
});
