/**
 * deploy/nginx/relaykit.conf, as shipped, in front of a Node, a Bun and a Deno instance on one
 * Redis: the classic checks (curl -N, a raw Upgrade, curl --http2) and headless Chromium holding
 * 10 SSE streams to one origin over HTTP/2. Only the ports and the certificate are changed.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { SpawnedServer } from '@relaykit/conformance/server';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SelfSignedCert, makeSelfSignedCert } from './cert.ts';
import { type RedisProcess, canConnect, freePort, startInstance, startRedis } from './cluster.ts';
import { ROOT, RUNTIMES, until } from './servers.ts';

const run = promisify(execFile);
let redis: RedisProcess;
let nginx: ChildProcess;
let cert: SelfSignedCert | undefined;
let plain = '';
let tls = '';
const instances: SpawnedServer[] = [];

beforeAll(async () => {
  redis = await startRedis();
  const prefix = `nginx${process.pid}:`;
  instances.push(...(await Promise.all(RUNTIMES.map((rt) => startInstance(rt, redis.url, prefix)))));
  cert = await makeSelfSignedCert('relaykit-nginx-');
  const { dir } = cert;
  mkdirSync(join(dir, 'logs'));
  const [httpPort, httpsPort] = [await freePort(), await freePort()];
  let conf = readFileSync(`${ROOT}deploy/nginx/relaykit.conf`, 'utf8');
  conf = conf.replace(/server 127\.0\.0\.1:808[1-3];\n\s*/g, '');
  conf = conf.replace('keepalive 64;', `${instances.map((s) => `server 127.0.0.1:${s.port};`).join(' ')}\n    keepalive 64;`);
  conf = conf.replace('listen 127.0.0.1:8443 ssl http2;', `listen 127.0.0.1:${httpsPort} ssl http2;`).replace('listen 127.0.0.1:8080;', `listen 127.0.0.1:${httpPort};`);
  // As root, nginx's workers would switch to a user that cannot read the temporary folder.
  writeFileSync(join(dir, 'relaykit.conf'), `user root;\n${conf}`);
  nginx = spawn('nginx', ['-p', dir, '-c', 'relaykit.conf', '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let errors = '';
  nginx.stderr!.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  await until(`nginx to listen (${errors})`, () => canConnect(httpsPort));
  plain = `http://127.0.0.1:${httpPort}`;
  tls = `https://127.0.0.1:${httpsPort}`;
}, 90_000);

afterAll(async () => {
  nginx?.kill('SIGTERM');
  await Promise.all(instances.map((s) => s.stop()));
  redis?.stop();
  cert?.remove();
});

const topic = () => `nginx.${Math.random().toString(36).slice(2, 8)}`;

async function publishVia(base: string, name: string, data: unknown): Promise<string> {
  const { stdout } = await run('curl', ['-sk', '-X', 'POST', '-H', 'content-type: application/json', '-d', JSON.stringify({ type: 'n', data }), `${base}/v1/topics/${name}/events`]);
  return (JSON.parse(stdout) as { id: string }).id;
}

describe('nginx in front of the cluster', () => {
  it('streams SSE unbuffered: curl -N sees each event as it is published', async () => {
    const name = topic();
    const curl = spawn('curl', ['-sN', `${plain}/v1/events?topic=${name}`]);
    let out = '';
    curl.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    await until('the stream to open through nginx', () => out.includes(': relaykit stream open'));
    for (let i = 0; i < 3; i++) {
      // One at a time: each must arrive before the next is sent, so nothing waits in a buffer.
      const id = await publishVia(plain, name, i);
      await until(`event ${id} through nginx`, () => out.includes(`id: ${id}`));
    }
    curl.kill();
  });

  it('answers a raw WebSocket upgrade with 101 Switching Protocols', async () => {
    const { stdout } = await run('curl', [
      '-si', '-N', '--max-time', '2', '--http1.1',
      '-H', 'Connection: Upgrade', '-H', 'Upgrade: websocket', '-H', 'Sec-WebSocket-Version: 13', '-H', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
      `${plain}/v1/ws`,
    ]).catch((error: { stdout: string }) => error); // curl exits 28 when --max-time ends the open socket
    expect(stdout.split('\r\n')[0]).toBe('HTTP/1.1 101 Switching Protocols');
  });

  it('speaks HTTP/2 over TLS: curl -I --http2', async () => {
    const { stdout } = await run('curl', ['-skI', '--http2', `${tls}/healthz`]);
    expect(stdout.split('\r\n')[0]).toMatch(/^HTTP\/2 200/);
  });

  it('lets headless Chromium hold 10 SSE streams to one origin over HTTP/2, each receiving events', async () => {
    const browser: Browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
    });
    try {
      const page = await (await browser.newContext({ ignoreHTTPSErrors: true })).newPage();
      await page.goto(`${tls}/healthz`);
      const name = topic();
      await page.evaluate((t) => {
        const w = window as unknown as { got: number[]; open: number };
        w.got = Array(10).fill(0);
        w.open = 0;
        for (let i = 0; i < 10; i++) {
          const source = new EventSource(`/v1/events?topic=${t}`);
          source.onopen = () => w.open++;
          source.addEventListener('n', () => w.got[i]!++);
        }
      }, name);
      // Over HTTP/1.1 the seventh stream would wait for one of the first six to close.
      await until('10 open streams', () => page.evaluate(() => (window as unknown as { open: number }).open === 10));
      for (let i = 0; i < 2; i++) await publishVia(tls, name, i);
      await until('2 events on each of the 10 streams', () => page.evaluate(() => (window as unknown as { got: number[] }).got.every((n) => n >= 2)));
      const protocol = await page.evaluate(() => (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).nextHopProtocol);
      expect(protocol).toBe('h2');
    } finally {
      await browser.close();
    }
  }, 60_000);
});
