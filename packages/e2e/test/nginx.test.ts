/**
 * deploy/nginx/relaykit.conf, as shipped, in front of a Node, a Bun and a Deno instance on one
 * Redis: the classic checks (curl -N, a raw Upgrade, curl --http2) and headless Chromium holding
 * 10 SSE streams to one origin over HTTP/2. Only the ports and the certificate are changed.
 */
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import type { SpawnedServer } from '@relaykit/conformance/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NginxProcess, type RedisProcess, startInstance, startNginx, startRedis } from './cluster.ts';
import { tenSseStreams } from './h2-streams.ts';
import { RUNTIMES, until } from './servers.ts';

const run = promisify(execFile);
let redis: RedisProcess;
let nginx: NginxProcess | undefined;
let plain = '';
let tls = '';
const instances: SpawnedServer[] = [];

beforeAll(async () => {
  redis = await startRedis();
  const prefix = `nginx${process.pid}:`;
  instances.push(...(await Promise.all(RUNTIMES.map((rt) => startInstance(rt, redis.url, prefix)))));
  nginx = await startNginx(instances.map((s) => s.port));
  plain = nginx.http;
  tls = nginx.https;
}, 90_000);

afterAll(async () => {
  nginx?.stop();
  await Promise.all(instances.map((s) => s.stop()));
  redis?.stop();
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
    const name = topic();
    expect(await tenSseStreams(tls, name, (i) => publishVia(tls, name, i))).toBe('h2');
  }, 60_000);
});
