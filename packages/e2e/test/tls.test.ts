/**
 * TLS_CERT_FILE / TLS_KEY_FILE on every runtime, without a proxy: curl --http2 on /healthz, a
 * live SSE stream, wss:// (welcome, subscribe, event), and headless Chromium holding 10 SSE
 * streams to one origin. All negotiate h2 by ALPN and keep HTTP/1.1 for WebSocket upgrades:
 * Node and Deno with node:http2's secure server (HTTP/1.1 allowed), Bun with Bun.serve's
 * `http2: true`.
 */
import { execFile, spawn } from 'node:child_process';
import { type ClientHttp2Session, connect as connectHttp2, constants } from 'node:http2';
import { connect as connectTls } from 'node:tls';
import { promisify } from 'node:util';
import { type SpawnedServer, spawnServer } from '@relaykit/conformance/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type SelfSignedCert, makeSelfSignedCert } from './cert.ts';
import { tenSseStreams } from './h2-streams.ts';
import { ROOT, RUNTIMES, type Runtime, commandFor, until } from './servers.ts';

const run = promisify(execFile);
let cert: SelfSignedCert;
const servers = new Map<Runtime, SpawnedServer>();
/** Every server a test started, stopped in afterAll even when its test timed out. */
const started = new Set<SpawnedServer>();

/** The app with TLS on; Deno also needs to read the two files. */
async function startTls(runtime: Runtime, env: Record<string, string> = {}): Promise<SpawnedServer> {
  const command = commandFor(runtime);
  if (runtime === 'deno') command.splice(2, 0, `--allow-read=${cert.dir}`);
  const server = await spawnServer({
    command,
    cwd: `${ROOT}apps/${runtime}`,
    env: { HOST: '127.0.0.1', HEARTBEAT_MS: '1000', SHUTDOWN_GRACE_MS: '500', TLS_CERT_FILE: cert.certFile, TLS_KEY_FILE: cert.keyFile, ...env },
    killAfterMs: 3_000,
    label: `${runtime} tls`,
  });
  started.add(server);
  return server;
}

beforeAll(async () => {
  cert = await makeSelfSignedCert('relaykit-tls-');
  for (const runtime of RUNTIMES) servers.set(runtime, await startTls(runtime, { REQUEST_TIMEOUT_MS: '1000' }));
}, 60_000);

afterAll(async () => {
  await Promise.all([...started].map((s) => s.stop()));
  cert?.remove();
});

const topic = () => `tls.${Math.random().toString(36).slice(2, 8)}`;

async function publishVia(base: string, name: string, data: unknown): Promise<string> {
  const { stdout } = await run('curl', ['-sk', '-X', 'POST', '-H', 'content-type: application/json', '-d', JSON.stringify({ type: 'n', data }), `${base}/v1/topics/${name}/events`]);
  return (JSON.parse(stdout) as { id: string }).id;
}

describe.each(RUNTIMES)('%s with TLS_CERT_FILE and TLS_KEY_FILE', (runtime) => {
  const server = () => servers.get(runtime)!;
  const statusLine = /^HTTP\/2 200/;

  it('prints an https:// listening URL', () => {
    expect(server().url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it('answers curl --http2 -k on /healthz over HTTP/2', async () => {
    const { stdout } = await run('curl', ['-skI', '--http2', `${server().url}/healthz`]);
    expect(stdout.split('\r\n')[0]).toMatch(statusLine);
  });

  it('streams SSE over HTTP/2 to curl --http2 -N: each event as it is published', async () => {
    const name = topic();
    const curl = spawn('curl', ['-skN', '--http2', '-D', '-', `${server().url}/v1/events?topic=${name}`]);
    let out = '';
    curl.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    try {
      await until('the stream to open', () => out.includes(': relaykit stream open'));
      expect(out.split('\r\n')[0]).toMatch(statusLine);
      for (let i = 0; i < 3; i++) {
        // One at a time: each must arrive before the next is sent, so nothing waits in a buffer.
        const id = await publishVia(server().url, name, i);
        await until(`event ${id} on the stream`, () => out.includes(`id: ${id}\nevent: n\n`));
      }
    } finally {
      curl.kill();
    }
  });

  it('serves wss://: welcome, subscribe, event', async () => {
    const name = topic();
    const ws = new WebSocket(`${server().url.replace(/^https/, 'wss')}/v1/ws`, { rejectUnauthorized: false });
    const frames: { type: string; event?: { id: string; data: unknown } }[] = [];
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as (typeof frames)[number];
      frames.push(frame);
      if (frame.type === 'welcome') ws.send(JSON.stringify({ type: 'subscribe', topics: [name], ref: 's' }));
    });
    try {
      await until('subscribed', () => frames.some((f) => f.type === 'subscribed'));
      const id = await publishVia(server().url, name, { over: 'wss' });
      const event = await until('the event frame', () => frames.find((f) => f.type === 'event'));
      expect(event.event).toMatchObject({ id, data: { over: 'wss' } });
      expect(frames[0]!.type).toBe('welcome');
    } finally {
      ws.close();
    }
  });

  it('lets headless Chromium hold 10 SSE streams to one origin over HTTP/2, each receiving events', async () => {
    const name = topic();
    expect(await tenSseStreams(server().url, name, (i) => publishVia(server().url, name, i))).toBe('h2');
  }, 60_000);

  it('answers an HTTP/2 publish whose body does not arrive within REQUEST_TIMEOUT_MS with 408 request_timeout', async () => {
    const session = connectHttp2(server().url, { rejectUnauthorized: false });
    try {
      const request = session.request({ [constants.HTTP2_HEADER_METHOD]: 'POST', [constants.HTTP2_HEADER_PATH]: `/v1/topics/${topic()}/events`, 'content-type': 'application/json' });
      request.write('{"type":"n",'); // and never the rest
      const started = Date.now();
      const status = await new Promise<number>((resolve) => request.once('response', (headers) => resolve(Number(headers[constants.HTTP2_HEADER_STATUS]))));
      let body = '';
      for await (const chunk of request) body += String(chunk);
      expect(status).toBe(408);
      expect(JSON.parse(body)).toMatchObject({ error: { code: 'request_timeout' } });
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      session.destroy();
    }
  });

  // Bun's head deadline is uWS's own, about 10 s whatever REQUEST_TIMEOUT_MS says (PROTOCOL.md §13).
  it.skipIf(runtime === 'bun')('closes an HTTP/1.1-over-TLS connection whose head does not arrive within REQUEST_TIMEOUT_MS', async () => {
    const { port } = server();
    const socket = connectTls({ host: '127.0.0.1', port, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    await new Promise<void>((resolve) => socket.once('secureConnect', () => resolve()));
    expect(socket.alpnProtocol).toBe('http/1.1');
    socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'); // and never the blank line
    const started = Date.now();
    await closed;
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
  });
});

/** One request on an HTTP/2 session; resolves with status and body text. */
async function h2Request(session: ClientHttp2Session, method: string, path: string, body?: string): Promise<{ status: number; text: string }> {
  const request = session.request({ [constants.HTTP2_HEADER_METHOD]: method, [constants.HTTP2_HEADER_PATH]: path, 'content-type': 'application/json' });
  request.end(body);
  const status = await new Promise<number>((resolve, reject) => request.once('response', (h) => resolve(Number(h[constants.HTTP2_HEADER_STATUS]))).once('error', reject));
  let text = '';
  for await (const chunk of request) text += String(chunk);
  return { status, text };
}

function metricOf(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.slice(name.length + 1)) : 0;
}

describe.each(RUNTIMES)('%s over TLS: a slow HTTP/2 SSE reader', (runtime) => {
  it('is ended once its unsent data outgrows MAX_BUFFERED_BYTES (flow control stops it), and counted out', async () => {
    const server = await startTls(runtime, { MAX_BUFFERED_BYTES: '65536', MAX_MESSAGE_BYTES: '65536' });
    const reader = connectHttp2(server.url, { rejectUnauthorized: false });
    const publisher = connectHttp2(server.url, { rejectUnauthorized: false });
    try {
      const name = topic();
      const stream = reader.request({ [constants.HTTP2_HEADER_PATH]: `/v1/events?topic=${name}` });
      let head = '';
      await new Promise<void>((resolve) => {
        const onData = (chunk: Buffer) => {
          head += chunk.toString();
          if (head.includes('relaykit stream open')) {
            stream.off('data', onData);
            resolve();
          }
        };
        stream.on('data', onData);
      });
      stream.pause(); // no more WINDOW_UPDATEs: the server's writes for this stream queue up
      const ended = new Promise<void>((resolve) => {
        stream.once('end', resolve);
        stream.once('close', resolve);
      });
      const payload = JSON.stringify({ type: 'big', data: 'y'.repeat(60_000) });
      let closes = 0;
      for (let round = 0; round < 100 && closes === 0; round++) {
        for (let i = 0; i < 5; i++) expect((await h2Request(publisher, 'POST', `/v1/topics/${name}/events`, payload)).status).toBe(201);
        closes = metricOf((await h2Request(publisher, 'GET', '/metrics')).text, 'relaykit_slow_consumer_closes_total');
      }
      expect(closes, 'the server ended the slow HTTP/2 SSE stream').toBe(1);
      stream.resume();
      await ended;
      await until('no SSE connection counted', async () => metricOf((await h2Request(publisher, 'GET', '/metrics')).text, 'relaykit_connections{transport="sse"}') === 0);
    } finally {
      reader.destroy();
      publisher.destroy();
      await server.stop();
    }
  }, 90_000);
});

describe.each(RUNTIMES)('%s over TLS on SIGTERM', (runtime) => {
  it('closes wss:// with 1001, ends an HTTP/2 SSE stream and exits 0 within SHUTDOWN_GRACE_MS', async () => {
    const server = await startTls(runtime, { SHUTDOWN_GRACE_MS: '2000' });
    const curl = spawn('curl', ['-skN', '--http2', `${server.url}/v1/events?topic=${topic()}`]);
    let out = '';
    curl.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const curlExited = new Promise<void>((resolve) => curl.once('exit', () => resolve()));
    const ws = new WebSocket(`${server.url.replace(/^https/, 'wss')}/v1/ws`, { rejectUnauthorized: false });
    const wsClosed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    const welcomed = new Promise<void>((resolve, reject) => ws.once('message', () => resolve()).once('error', reject));
    try {
      await until('the stream to open', () => out.includes(': relaykit stream open'));
      await welcomed;
      const started = Date.now();
      server.signal('SIGTERM');
      expect(await wsClosed).toBe(1001);
      await curlExited; // the server ended the stream: curl saw the end of the HTTP/2 response
      expect(await server.exited).toMatchObject({ code: 0 });
      expect(Date.now() - started).toBeLessThan(2_000 + 1_000);
    } finally {
      curl.kill();
      await server.stop();
    }
  }, 30_000);
});

describe('TLS settings that cannot work stop the server with exit code 2', () => {
  let other: SelfSignedCert;
  beforeAll(async () => {
    other = await makeSelfSignedCert('relaykit-tls-other-');
  });
  afterAll(() => other?.remove());

  async function exitOf(runtime: Runtime, env: Record<string, string>): Promise<{ code: number; stderr: string }> {
    const command = commandFor(runtime);
    if (runtime === 'deno') command.splice(2, 0, `--allow-read=${cert.dir},${other.dir}`);
    return run(command[0]!, command.slice(1), { cwd: `${ROOT}apps/${runtime}`, env: { ...process.env, PORT: '0', ...env }, timeout: 15_000 }).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => error,
    );
  }

  it.each(RUNTIMES)('%s: a missing key file is named', async (runtime) => {
    const result = await exitOf(runtime, { TLS_CERT_FILE: cert.certFile, TLS_KEY_FILE: `${cert.dir}/missing.pem` });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`TLS_KEY_FILE="${cert.dir}/missing.pem": cannot be read`);
  });

  it.each(RUNTIMES)('%s: a key that is not the certificate\'s is named', async (runtime) => {
    const result = await exitOf(runtime, { TLS_CERT_FILE: cert.certFile, TLS_KEY_FILE: other.keyFile });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`TLS_KEY_FILE="${other.keyFile}": is not the private key of TLS_CERT_FILE`);
  });
});
