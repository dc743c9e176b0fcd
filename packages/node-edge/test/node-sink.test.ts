import { type ServerResponse, createServer } from 'node:http';
import { type AddressInfo, type Socket, connect } from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { NodeSink } from '../src/sse.js';

const utf8 = new TextEncoder();
const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

/**
 * A node:http server whose first request is handed to `stream` as a NodeSink, every later one
 * answered `ok`, and a raw TCP client that records each chunk of bytes as it arrives.
 */
async function rig(stream: (sink: NodeSink, res: ServerResponse) => Promise<void> | void) {
  let served = 0;
  const server = createServer((_req, res) => {
    if (served++ > 0) return void res.end('ok');
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    void stream(new NodeSink(res), res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const socket: Socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
  closers.push(() => {
    socket.destroy();
    server.close();
  });
  let raw = '';
  socket.on('data', (data: Buffer) => (raw += data.toString('latin1')));
  const request = (version = '1.1') => socket.write(`GET /v1/events HTTP/${version}\r\nHost: x\r\n\r\n`);
  const until = async (text: string) => {
    for (let i = 0; i < 200 && !raw.includes(text); i++) await new Promise((r) => setTimeout(r, 10));
    expect(raw).toContain(text);
  };
  return { request, until, raw: () => raw, body: () => raw.slice(raw.indexOf('\r\n\r\n') + 4) };
}

describe('NodeSink (HTTP/1.1)', () => {
  it("sends a turn's writes as one chunk of chunked encoding, ends with the last chunk and leaves the connection reusable", async () => {
    const { request, until, body } = await rig(async (sink) => {
      sink.write(utf8.encode(': open\n\n'));
      sink.write(utf8.encode('data: 1\n\n'));
      await nextTurn();
      await nextTurn();
      sink.write(utf8.encode('data: 2\n\n'));
      await nextTurn();
      sink.end();
    });
    request();
    await until('0\r\n\r\n');
    expect(body()).toBe('11\r\n: open\n\ndata: 1\n\n\r\n9\r\ndata: 2\n\n\r\n0\r\n\r\n');
    request();
    await until('\r\n\r\nok');
  });

  it('sends the head with the first chunk, not before', async () => {
    let release = () => {};
    const { request, until, raw, body } = await rig(
      (sink) =>
        new Promise<void>((resolve) => {
          release = () => {
            sink.write(utf8.encode(': late\n\n'));
            resolve();
          };
        }),
    );
    request();
    await new Promise((r) => setTimeout(r, 50));
    expect(raw()).toBe('');
    release();
    await until(': late');
    expect(body()).toBe('8\r\n: late\n\n\r\n');
  });

  it('counts bytes held for the turn as buffered, but reports backpressure only for what an earlier turn left unsent', async () => {
    const seen: number[] = [];
    const { request, until } = await rig(async (sink) => {
      seen.push(sink.write(utf8.encode('data: 1\n\n')), sink.bufferedAmount);
      await nextTurn();
      await nextTurn();
      seen.push(sink.bufferedAmount);
      sink.end();
    });
    request();
    await until('0\r\n\r\n');
    expect(seen).toEqual([9, 9, 0]);
  });

  it('writes an HTTP/1.0 response without chunked framing', async () => {
    const { request, until, body } = await rig(async (sink) => {
      sink.write(utf8.encode('data: a\n\n'));
      sink.write(utf8.encode('data: b\n\n'));
      await nextTurn();
      sink.end();
    });
    request('1.0');
    await until('data: b');
    expect(body()).toBe('data: a\n\ndata: b\n\n');
  });
});
