import { describe, expect, it } from 'vitest';
import { TrustedProxies, clientKey } from '../src/client-address.js';
import { ClientLimits } from '../src/client-limits.js';
import { RateLimit } from '../src/token-bucket.js';

describe('RateLimit (token bucket)', () => {
  it('admits the burst at once, then the rate, and says how long to wait in whole seconds', () => {
    const limit = new RateLimit(2, 3);
    const bucket = limit.bucket(0);
    expect([1, 2, 3, 4].map(() => limit.take(bucket, 0))).toEqual([true, true, true, false]);
    expect(limit.retryAfterS(bucket)).toBe(1);
    expect(limit.take(bucket, 499)).toBe(false);
    expect(limit.take(bucket, 500)).toBe(true);
    // Refills up to the burst, no further.
    expect(limit.isFull(bucket, 1500)).toBe(false);
    expect(limit.isFull(bucket, 2000)).toBe(true);
    const after = [1, 2, 3, 4].map(() => limit.take(bucket, 60_000));
    expect(after).toEqual([true, true, true, false]);
  });

  it('rounds Retry-After up for slow rates and admits everything at rate 0', () => {
    const slow = new RateLimit(1, 1);
    const bucket = slow.bucket(0);
    slow.take(bucket, 0);
    expect(slow.take(bucket, 100)).toBe(false);
    expect(slow.retryAfterS(bucket)).toBe(1);
    const off = new RateLimit(0, 1);
    const none = off.bucket(0);
    for (let i = 0; i < 1000; i++) expect(off.take(none, 0)).toBe(true);
  });
});

describe('ClientLimits', () => {
  it('keeps one bucket per client and kind', () => {
    let now = 0;
    const limits = new ClientLimits(new RateLimit(1, 2), new RateLimit(1, 1), 100, () => now);
    expect([limits.take('publish', 'a'), limits.take('publish', 'a'), limits.take('publish', 'a')]).toEqual([0, 0, 1]);
    expect(limits.take('publish', 'b')).toBe(0);
    expect([limits.take('connect', 'a'), limits.take('connect', 'a')]).toEqual([0, 1]);
    now = 1000;
    expect(limits.take('publish', 'a')).toBe(0);
  });

  it('stays within its bound under addresses that rotate, and sweeps refilled buckets away', () => {
    let now = 0;
    const limits = new ClientLimits(new RateLimit(1, 5), new RateLimit(1, 5), 1000, () => now);
    // A client that is being limited, and an attacker with 100,000 addresses.
    for (let i = 0; i < 5; i++) limits.take('publish', 'victim');
    for (let i = 0; i < 100_000; i++) {
      limits.take('connect', `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
      if (i % 1000 === 0) {
        expect(limits.size).toBeLessThanOrEqual(1000);
        now += 1;
      }
    }
    expect(limits.size).toBeLessThanOrEqual(1000);
    // Once everything has refilled, the table empties as it is used.
    now += 120_000;
    limits.take('publish', 'late');
    expect(limits.size).toBe(1);
  });
});

describe('clientKey', () => {
  const none = new TrustedProxies([]);
  const trusted = new TrustedProxies(['127.0.0.1', '10.0.0.0/8', '::1', 'fd00::/8']);

  it('is the peer address when no proxy is trusted, whatever X-Forwarded-For says', () => {
    expect(clientKey('192.0.2.1', '203.0.113.9', none)).toBe('192.0.2.1');
    expect(clientKey('::ffff:192.0.2.1', null, none)).toBe('192.0.2.1');
    expect(clientKey('192.0.2.1', '203.0.113.9', trusted)).toBe('192.0.2.1');
    expect(clientKey(undefined, null, none)).toBe('unknown');
  });

  it('counts IPv6 clients by their /64', () => {
    expect(clientKey('2001:db8:1:2::5', null, none)).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:db8:1:2:ffff::1', null, none)).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:db8:1:3::5', null, none)).not.toBe(clientKey('2001:db8:1:2::5', null, none));
  });

  it('takes the right-most untrusted X-Forwarded-For address from a trusted peer', () => {
    expect(clientKey('127.0.0.1', '203.0.113.7', trusted)).toBe('203.0.113.7');
    expect(clientKey('127.0.0.1', '198.51.100.1, 203.0.113.7', trusted)).toBe('203.0.113.7');
    expect(clientKey('127.0.0.1', '203.0.113.7, 10.1.2.3', trusted)).toBe('203.0.113.7');
    expect(clientKey('::1', '[2001:db8::1]:4711', trusted)).toBe('2001:db8:0:0::/64');
    expect(clientKey('127.0.0.1', '203.0.113.7:5555', trusted)).toBe('203.0.113.7');
    // Only trusted hops: the left-most is the client.
    expect(clientKey('127.0.0.1', '10.0.0.5, 10.0.0.6', trusted)).toBe('10.0.0.5');
    // An entry that is no address ends the walk at the hop that wrote it.
    expect(clientKey('127.0.0.1', '203.0.113.7, garbage, 10.0.0.9', trusted)).toBe('10.0.0.9');
    expect(clientKey('127.0.0.1', '', trusted)).toBe('127.0.0.1');
  });
});
