/** The browser side of the HTTP/2 checks shared by the nginx and TLS tests. */
import { type Browser, chromium } from 'playwright-core';
import { until } from './servers.ts';

/**
 * Opens 10 EventSource streams to `origin` (HTTPS, self-signed) from headless Chromium, publishes
 * twice through `publish` and waits until every stream has both events. Over HTTP/1.1 the seventh
 * stream would wait for one of the first six to close, so this passing needs HTTP/2. Returns the
 * page's negotiated protocol (`h2`).
 */
export async function tenSseStreams(origin: string, topic: string, publish: (data: number) => Promise<unknown>): Promise<string> {
  const browser: Browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--ignore-certificate-errors', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
  try {
    const page = await (await browser.newContext({ ignoreHTTPSErrors: true })).newPage();
    await page.goto(`${origin}/healthz`);
    await page.evaluate((t) => {
      const w = window as unknown as { got: number[]; open: number };
      w.got = Array(10).fill(0);
      w.open = 0;
      for (let i = 0; i < 10; i++) {
        const source = new EventSource(`/v1/events?topic=${t}`);
        source.onopen = () => w.open++;
        source.addEventListener('n', () => w.got[i]!++);
      }
    }, topic);
    await until('10 open streams', () => page.evaluate(() => (window as unknown as { open: number }).open === 10));
    for (let i = 0; i < 2; i++) await publish(i);
    await until('2 events on each of the 10 streams', () => page.evaluate(() => (window as unknown as { got: number[] }).got.every((n) => n >= 2)));
    return await page.evaluate(() => (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).nextHopProtocol);
  } finally {
    await browser.close();
  }
}
