/**
 * The demo page in real headless Chromium against each runtime's server: events over SSE,
 * WebSocket and long polling; publishing from the page; a cut connection that loses and
 * duplicates nothing; a restarted server whose "cannot resume" signal the page shows.
 */
import { mkdirSync } from 'node:fs';
import { type Browser, type BrowserContext, type Page, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { TestProxy } from './proxy.ts';
import { ROOT, RUNTIMES, type Runtime, type RunningServer, publish, sleep, startServer, until } from './servers.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = `${ROOT}test-artifacts`;
const TRANSPORTS = ['sse', 'ws', 'poll'] as const;
type Kind = (typeof TRANSPORTS)[number];

let browser: Browser;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
});

afterAll(async () => {
  await browser?.close();
});

interface Received {
  id: string;
  topic: string;
}

const receivedOn = (page: Page, topic: string) =>
  page.evaluate(
    (t) => (globalThis as unknown as { relaykitDemo: { received: Received[] } }).relaykitDemo.received.filter((e) => e.topic === t).map((e) => e.id),
    topic,
  );
const resetsOn = (page: Page) =>
  page.evaluate(() => (globalThis as unknown as { relaykitDemo: { resets: { topics: string[] }[] } }).relaykitDemo.resets.length);
const stateOf = (page: Page) => page.locator('#state').getAttribute('data-state');
/** Rows shown in the events table, oldest first. */
const rowsOn = async (page: Page, topic: string) =>
  (await page.locator(`#events tr[data-topic="${topic}"]`).evaluateAll((rows) => rows.map((row) => (row as HTMLElement).dataset.id!))).reverse();

describe.each(RUNTIMES)('demo page in Chromium against %s', (runtime: Runtime) => {
  let server: RunningServer;
  let proxy: TestProxy;
  let base: string;
  let context: BrowserContext;
  const pages = {} as Record<Kind, Page>;

  beforeAll(async () => {
    server = await startServer(runtime);
    proxy = new TestProxy(server.port);
    base = await proxy.listen();
    context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    for (const kind of TRANSPORTS) {
      const page = await context.newPage();
      page.on('pageerror', (error) => console.error(`[${runtime}/${kind}] page error`, error));
      await page.goto(`${base}/?transport=${kind}&topics=room,cut&backoffMs=200`);
      pages[kind] = page;
    }
    for (const kind of TRANSPORTS) await until(`${kind} page open`, async () => (await stateOf(pages[kind])) === 'open');
  });

  afterAll(async () => {
    await context?.close();
    await proxy?.close();
    await server?.stop();
  });

  test('the page is served at / and receives events over SSE, WebSocket and long polling', async () => {
    const id = await publish(server.url, 'room', 'greeting', { text: `hello from the test (${runtime})` });
    for (const kind of TRANSPORTS) {
      await until(`${kind} page shows ${id}`, async () => (await rowsOn(pages[kind], 'room')).includes(id));
      expect(await pages[kind].locator('#state').textContent()).toContain(kind);
    }
  });

  test('the members list shows the SSE and WebSocket pages live: a page that joins appears, one that leaves goes', async () => {
    const members = (page: Page) => page.locator('#members li[data-topic="room"]').evaluateAll((items) => items.map((item) => (item as HTMLElement).dataset.connectionId!));
    const streaming = [pages.sse, pages.ws];
    // Long polls are not members: the SSE and WebSocket pages are the room's two.
    let seen: string[] = [];
    for (const page of streaming) {
      // On a timeout the message says what the page listed.
      await until(() => `two members listed (last seen: ${JSON.stringify(seen)})`, async () => (seen = await members(page)).length === 2);
    }
    const extra = await context.newPage();
    await extra.goto(`${base}/?transport=ws&topics=room`);
    await until('the new page open', async () => (await stateOf(extra)) === 'open');
    for (const page of [...streaming, pages.poll]) await until('three members listed', async () => (await members(page)).length === 3, 15_000);
    await extra.close();
    for (const page of streaming) await until('back to two', async () => (await members(page)).length === 2);
  });

  test('a publish from the page reaches the pages on the other transports', async () => {
    for (const from of TRANSPORTS) {
      const page = pages[from];
      await page.fill('#pub-topic', 'room');
      await page.fill('#pub-type', 'note');
      await page.fill('#pub-data', JSON.stringify({ text: `from the ${from} page` }));
      const before = await page.locator('#pub-result').getAttribute('data-id');
      await page.click('#publish');
      const id = await until(`${from} publish ack`, async () => {
        const now = await page.locator('#pub-result').getAttribute('data-id');
        return now && now !== before ? now : undefined;
      });
      for (const kind of TRANSPORTS) {
        await until(`${kind} page shows ${id} published from ${from}`, async () => (await receivedOn(pages[kind], 'room')).includes(id));
      }
    }
    for (const kind of TRANSPORTS) {
      await pages[kind].screenshot({ path: `${ARTIFACTS}/demo-${runtime}-${kind}.png`, fullPage: true });
    }
  });

  test('auto: behind a proxy that buffers SSE, the page falls back to WebSocket and says why', async () => {
    const buffering = new TestProxy(server.port);
    buffering.bufferSse = true;
    const page = await context.newPage();
    try {
      await page.goto(`${await buffering.listen()}/?transport=auto&topics=room&openTimeoutMs=1500`);
      await until('auto page open on ws', async () => (await page.locator('#state').textContent()) === 'open · ws');
      expect(await page.locator('#transport-reason').textContent()).toMatch(/^sse failed before opening \(no opening comment within 1500 ms.*falling back to ws$/);
      expect(await page.locator('#log').textContent()).toContain('transport → ws');
      const id = await publish(server.url, 'room', 'greeting', { text: 'to the auto page' });
      await until('auto page shows the event', async () => (await receivedOn(page, 'room')).includes(id));
      await page.screenshot({ path: `${ARTIFACTS}/demo-${runtime}-auto-fallback.png`, fullPage: true });
    } finally {
      await page.close();
      await buffering.close();
    }
  });

  test('pause while hidden: the page disconnects, and on becoming visible replays what it missed', async () => {
    const page = await context.newPage();
    const setVisibility = (state: 'hidden' | 'visible') =>
      page.evaluate((value) => {
        Object.defineProperty(document, 'visibilityState', { value, configurable: true });
        document.dispatchEvent(new Event('visibilitychange'));
      }, state);
    try {
      await page.goto(`${base}/?transport=ws&topics=vis&pauseHidden=1`);
      await until('visibility page open', async () => (await stateOf(page)) === 'open');
      const before = await publish(server.url, 'vis', 'x', 0);
      await until('first event', async () => (await receivedOn(page, 'vis')).includes(before));
      await setVisibility('hidden');
      expect(await stateOf(page)).toBe('paused');
      const missed = [await publish(server.url, 'vis', 'x', 1), await publish(server.url, 'vis', 'x', 2)];
      await sleep(200);
      expect(await receivedOn(page, 'vis')).toEqual([before]);
      await setVisibility('visible');
      await until('replayed after becoming visible', async () => (await receivedOn(page, 'vis')).length === 3);
      expect(await receivedOn(page, 'vis')).toEqual([before, ...missed]);
      expect(await stateOf(page)).toBe('open');
    } finally {
      await page.close();
    }
  });

  test('cutting the connection while publishing goes on loses nothing and duplicates nothing', async () => {
    const published: string[] = [];
    let cuts = 0;
    for (let i = 0; i < 36; i++) {
      published.push(await publish(server.url, 'cut', 'tick', { i }));
      if (i === 8 || i === 20) {
        proxy.cut();
        cuts++;
      }
      await sleep(40);
    }
    expect(cuts).toBe(2);
    for (const kind of TRANSPORTS) {
      const page = pages[kind];
      await until(`${kind} page caught up`, async () => (await receivedOn(page, 'cut')).length >= published.length, 20_000);
      await sleep(300); // anything duplicated would arrive now
      expect(await receivedOn(page, 'cut'), `${kind}: every event exactly once, in order`).toEqual(published);
      expect(await rowsOn(page, 'cut'), `${kind}: the table shows them once, in order`).toEqual(published);
      const reconnects = await page.evaluate(
        () => (globalThis as unknown as { relaykitDemo: { states: { state: string }[] } }).relaykitDemo.states.filter((s) => s.state === 'reconnecting').length,
      );
      expect(reconnects, `${kind}: the page saw its connection drop`).toBeGreaterThanOrEqual(1);
      expect(await page.locator('#log').textContent()).toContain('reconnecting');
    }
  });

  test('a restarted server (history gone) makes the page show the cannot-resume signal', async () => {
    for (const kind of TRANSPORTS) expect(await resetsOn(pages[kind])).toBe(0);
    await server.stop();
    proxy.cut();
    server = await startServer(runtime);
    proxy.upstreamPort = server.port;
    for (const kind of TRANSPORTS) {
      const page = pages[kind];
      await until(`${kind} page shows the reset`, async () => page.locator('#reset').isVisible(), 20_000).catch(async (error) => {
        console.error(`[${runtime}/${kind}] connection log:\n${await page.locator('#log').innerText()}\nserver output:\n${server.output()}`);
        throw error;
      });
      expect(await page.locator('#reset').getAttribute('data-code')).toBe('history_unavailable');
      expect(await page.locator('#reset').textContent()).toMatch(/room|cut/);
      await until(`${kind} page open again`, async () => (await stateOf(page)) === 'open');
    }
    // ...and goes on receiving from the new server.
    const id = await publish(server.url, 'room', 'greeting', { text: 'after the restart' });
    for (const kind of TRANSPORTS) {
      await until(`${kind} page shows ${id} after the restart`, async () => (await receivedOn(pages[kind], 'room')).includes(id));
      await pages[kind].screenshot({ path: `${ARTIFACTS}/demo-${runtime}-${kind}-after-restart.png`, fullPage: true });
    }
  });
});
