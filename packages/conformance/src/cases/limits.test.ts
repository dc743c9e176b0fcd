import { connect } from 'node:net';
import { ErrorBody } from '@relaykit/contracts';
import { afterAll, describe, expect, it } from 'vitest';
import {
  Bystander,
  WsClient,
  expectHttpError,
  metrics,
  needsCmd,
  ownServer,
  publish,
  serverLimits,
  stopOwnServers,
  topicUrl,
  uniqueTopic,
  WAIT_MS,
} from '../harness.ts';

afterAll(stopOwnServers);

/** A publish frame padded so that its JSON text is exactly `bytes` long (ASCII). */
function frameOfSize(bytes: number, topic: string, ref: string): string {
  const base = JSON.stringify({ type: 'publish', topic, event: { type: 'pad', data: '' }, ref });
  return base.replace('"data":""', `"data":"${'x'.repeat(bytes - base.length)}"`);
}

/** One raw HTTP/1.1 exchange over node:net, read until the server closes or the body is complete. */
async function rawRequest(base: string, request: string): Promise<{ head: string; body: string }> {
  const { hostname, port } = new URL(base);
  const socket = connect(Number(port), hostname);
  socket.write(request);
  let data = '';
  socket.setEncoding('utf8');
  await new Promise<void>((resolve) => {
    const check = () => {
      const at = data.indexOf('\r\n\r\n');
      if (at < 0) return;
      const length = /content-length: *(\d+)/i.exec(data.slice(0, at));
      if (length && Buffer.byteLength(data.slice(at + 4)) >= Number(length[1])) resolve();
    };
    socket.on('data', (chunk: string) => {
      data += chunk;
      check();
    });
    socket.on('close', () => resolve());
    socket.on('error', () => resolve());
    setTimeout(resolve, WAIT_MS);
  });
  socket.destroy();
  const at = data.indexOf('\r\n\r\n');
  return { head: data.slice(0, at), body: data.slice(at + 4) };
}

describe('limits', () => {
  it('LIM-001 MUST accept a WebSocket frame of exactly MAX_MESSAGE_BYTES', async () => {
    const { maxMessageBytes } = await serverLimits();
    const topic = uniqueTopic('exact');
    const ws = await WsClient.connect();
    await ws.subscribe([topic]);
    const frame = frameOfSize(maxMessageBytes, topic, 'exact');
    expect(Buffer.byteLength(frame)).toBe(maxMessageBytes);
    ws.send(frame);
    expect(await ws.next('ack')).toMatchObject({ ref: 'exact' });
    await ws.waitEvents(1);
    expect(ws.isOpen).toBe(true);
    await ws.close();
  });

  it('LIM-002 MUST accept an HTTP body of exactly MAX_MESSAGE_BYTES and refuse one byte more with 413', async () => {
    const { maxMessageBytes } = await serverLimits();
    const topic = uniqueTopic('exacthttp');
    const body = (n: number) => {
      const base = JSON.stringify({ type: 'pad', data: '' });
      return base.replace('"data":""', `"data":"${'é'.repeat(0)}${'x'.repeat(n - base.length)}"`);
    };
    const ok = await fetch(topicUrl(topic), { method: 'POST', body: body(maxMessageBytes) });
    expect(ok.status).toBe(201);
    await expectHttpError(fetch(topicUrl(topic), { method: 'POST', body: body(maxMessageBytes + 1) }), 413, 'message_too_large');
  });

  it('LIM-003 MUST count MAX_MESSAGE_BYTES in UTF-8 bytes, not characters (multi-byte frame over the limit closes with 1009)', async () => {
    const { maxMessageBytes } = await serverLimits();
    const ws = await WsClient.connect();
    // Fewer characters than the limit, more bytes: 3 bytes per character.
    ws.send(JSON.stringify({ type: 'ping', ref: '€'.repeat(Math.ceil(maxMessageBytes / 2.5)) }));
    expect((await ws.closed).code).toBe(1009);
  });

  it('LIM-004 MUST close a WebSocket whose unsent data outgrows MAX_BUFFERED_BYTES (4008, slow consumer) and keep serving others', async (ctx) => {
    needsCmd(ctx);
    const server = await ownServer({ MAX_BUFFERED_BYTES: '65536', MAX_MESSAGE_BYTES: '65536' });
    const topic = uniqueTopic('slow');
    const slow = await WsClient.connect(server.url);
    await slow.subscribe([topic]);
    const healthy = await WsClient.connect(server.url);
    await healthy.subscribe([topic]);
    // Stop reading: the server's writes back up in the socket and then in its own buffer.
    const socket = (slow.ws as unknown as { _socket: import('node:net').Socket })._socket;
    socket.pause();
    const publisher = await WsClient.connect(server.url);
    const payload = 'x'.repeat(60_000);
    let closes = 0;
    let sent = 0;
    for (let round = 0; round < 200 && closes === 0; round++) {
      for (let i = 0; i < 10; i++) publisher.send({ type: 'publish', topic, event: { type: 'big', data: payload }, ref: ++sent });
      await publisher.frames.until((f) => f.filter((x) => x.type === 'ack').length >= sent, 'acks', 30_000);
      await healthy.waitEvents(sent);
      closes = (await metrics(server.url)).get('relaykit_slow_consumer_closes_total') ?? 0;
    }
    expect(closes, 'the server closed the slow consumer').toBe(1);
    socket.resume();
    expect((await slow.closed).code).toBe(4008);
    // The healthy subscriber got every event, in order.
    expect(healthy.events().map((e) => e.type)).toHaveLength(sent);
    const after = await publish(topic, 'after', 1, undefined, server.url);
    const events = await healthy.waitEvents(sent + 1);
    expect(events[sent]!.id).toBe(after.body.id);
    await Promise.all([healthy.close(), publisher.close()]);
    await server.stop();
  }, 90_000);

  it('LIM-008 MUST end an SSE stream whose unsent data outgrows MAX_BUFFERED_BYTES (raw socket that stops reading)', async (ctx) => {
    needsCmd(ctx);
    const server = await ownServer({ MAX_BUFFERED_BYTES: '65536', MAX_MESSAGE_BYTES: '65536' });
    const topic = uniqueTopic('slowsse');
    const { hostname, port } = new URL(server.url);
    const socket = connect(Number(port), hostname);
    socket.write(`GET /v1/events?topic=${topic} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n`);
    let head = '';
    await new Promise<void>((resolve) => {
      const onData = (chunk: Buffer) => {
        head += chunk.toString('latin1');
        if (head.includes('relaykit stream open') || head.includes(': ')) {
          socket.off('data', onData);
          resolve();
        }
      };
      socket.on('data', onData);
    });
    expect(head).toMatch(/^HTTP\/1\.1 200/);
    expect(head).not.toMatch(/^content-length:/im);
    socket.pause();
    // The response ends: the last chunk of a chunked body, or the connection closing.
    const ended = new Promise<void>((resolve) => {
      let tail = '';
      socket.on('data', (chunk: Buffer) => {
        tail = (tail + chunk.toString('latin1')).slice(-16);
        if (tail.endsWith('\r\n0\r\n\r\n')) resolve();
      });
      socket.on('end', resolve);
      socket.on('close', () => resolve());
    });
    const bystander = await WsClient.connect(server.url);
    await bystander.subscribe([topic]);
    const publisher = await WsClient.connect(server.url);
    const payload = 'y'.repeat(60_000);
    let closes = 0;
    let sent = 0;
    for (let round = 0; round < 200 && closes === 0; round++) {
      for (let i = 0; i < 10; i++) publisher.send({ type: 'publish', topic, event: { type: 'big', data: payload }, ref: ++sent });
      await publisher.frames.until((f) => f.filter((x) => x.type === 'ack').length >= sent, 'acks', 30_000);
      await bystander.waitEvents(sent);
      closes = (await metrics(server.url)).get('relaykit_slow_consumer_closes_total') ?? 0;
    }
    expect(closes, 'the server ended the slow SSE stream').toBe(1);
    socket.resume();
    await ended;
    const m = await metrics(server.url);
    expect(m.get('relaykit_connections{transport="sse"}')).toBe(0);
    await Promise.all([bystander.close(), publisher.close()]);
    await server.stop();
  }, 90_000);

  it('LIM-005 MUST refuse connections over MAX_CONNECTIONS with 503 too_many_connections', async (ctx) => {
    needsCmd(ctx);
    const server = await ownServer({ MAX_CONNECTIONS: '2' });
    const a = await WsClient.connect(server.url);
    const b = await WsClient.connect(server.url);
    await expectHttpError(fetch(`${server.url}/v1/events?topic=x`), 503, 'too_many_connections');
    await expect(WsClient.connect(server.url)).rejects.toThrow(/503/);
    // The refused upgrade carries the same JSON error body as every other endpoint.
    const refused = await rawRequest(server.url, `GET /v1/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
    expect(refused.head).toMatch(/^HTTP\/1\.1 503/);
    expect(ErrorBody.parse(JSON.parse(refused.body)).error.code).toBe('too_many_connections');
    await a.close();
    // Freed: a new connection is admitted again.
    const c = await WsClient.connect(server.url);
    await Promise.all([b.close(), c.close()]);
    await server.stop();
  });

  it('LIM-006 MUST apply small configured limits (MAX_TOPICS_PER_CONNECTION=2, MAX_MESSAGE_BYTES=512) and report them in welcome', async (ctx) => {
    needsCmd(ctx);
    const server = await ownServer({ MAX_TOPICS_PER_CONNECTION: '2', MAX_MESSAGE_BYTES: '512', HISTORY_SIZE: '3' });
    const ws = await WsClient.connect(server.url);
    expect(ws.welcome).toMatchObject({ maxTopics: 2, maxMessageBytes: 512, historySize: 3 });
    await ws.subscribe(['a', 'b']);
    ws.send({ type: 'subscribe', topics: ['c'], ref: 'c' });
    expect(await ws.next('error')).toMatchObject({ code: 'too_many_topics', ref: 'c' });
    ws.send({ type: 'unsubscribe', topics: ['a'] });
    await ws.next('unsubscribed');
    await ws.subscribe(['c']);
    await expectHttpError(
      fetch(topicUrl('a', server.url), { method: 'POST', body: JSON.stringify({ type: 't', data: 'x'.repeat(600) }) }),
      413,
      'message_too_large',
    );
    ws.send(JSON.stringify({ type: 'ping', ref: 'x'.repeat(600) }));
    expect((await ws.closed).code).toBe(1009);
    await server.stop();
  });

  it('LIM-007 MUST keep serving a bystander while limits are hit', async () => {
    const bystander = await Bystander.start();
    const { maxTopics } = await serverLimits();
    const ws = await WsClient.connect();
    ws.send({ type: 'subscribe', topics: Array.from({ length: maxTopics + 5 }, (_, i) => `cf.lim.${i}`), ref: 1 });
    await ws.next('error');
    await bystander.check();
    await ws.close();
    await bystander.close();
  });
});
