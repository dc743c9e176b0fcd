import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { type WebSocket, Sender } from 'ws';
import { NodePeer } from '../src/ws.js';

/** A TCP socket's write side as NodePeer uses it: what was written, and how deep it is corked. */
class FakeSocket {
  written: Buffer[] = [];
  /** Writes that reached the "kernel": made while not corked, or flushed by the last uncork. */
  flushed: Buffer[] = [];
  corks = 0;
  writableLength = 0;
  cork(): void {
    this.corks++;
  }
  uncork(): void {
    if (this.corks > 0) this.corks--;
    if (this.corks === 0) this.flushed.push(...this.written.splice(0));
  }
  write(chunk: Buffer): boolean {
    this.written.push(Buffer.from(chunk));
    if (this.corks === 0) this.flushed.push(...this.written.splice(0));
    return true;
  }
}

function peerOn(socket: FakeSocket, closed: string[] = []): NodePeer {
  const ws = {
    readyState: 1,
    get bufferedAmount() {
      return socket.writableLength;
    },
    close: (code: number) => closed.push(`close ${code} with ${socket.written.length} held`),
    terminate: () => closed.push(`terminate with ${socket.written.length} held`),
  };
  return new NodePeer(ws as unknown as WebSocket, socket as unknown as Duplex);
}

/** ws's own framing of a server (unmasked) text frame: the bytes NodePeer must match. */
function wsFrame(text: string): Buffer {
  return Buffer.concat(Sender.frame(Buffer.from(text), { fin: true, opcode: 1, mask: false, readOnly: false, rsv1: false }) as Buffer[]);
}

describe('NodePeer', () => {
  it('frames text exactly as ws does at every length class (7-bit, 16-bit, 64-bit) and for multi-byte text', async () => {
    const socket = new FakeSocket();
    const peer = peerOn(socket);
    const texts = ['', 'a', 'x'.repeat(125), 'x'.repeat(126), 'x'.repeat(65_535), 'x'.repeat(65_536), 'é'.repeat(40_000), '{"a":"😀\\n"}'];
    for (const text of texts) peer.send(text);
    await nextTurn();
    expect(socket.flushed).toHaveLength(texts.length);
    texts.forEach((text, i) => expect(socket.flushed[i]!.equals(wsFrame(text)), `frame of ${text.length} chars`).toBe(true));
  });

  it("holds one turn's frames corked and releases them together at the end of the turn", async () => {
    const socket = new FakeSocket();
    const peer = peerOn(socket);
    peer.send('one');
    peer.send('two');
    expect(socket.flushed).toEqual([]);
    expect(socket.corks).toBe(1);
    await nextTurn();
    expect(socket.corks).toBe(0);
    expect(socket.flushed.map(String).map((s) => s.slice(2))).toEqual(['one', 'two']);
    peer.send('three');
    expect(socket.corks).toBe(1);
    await nextTurn();
    expect(socket.flushed).toHaveLength(3);
  });

  it('reports backpressure only for bytes an earlier turn left unsent, not for its own corked frames', async () => {
    const socket = new FakeSocket();
    const peer = peerOn(socket);
    expect(peer.send('a')).toBe(3);
    expect(peer.send('b')).toBe(3);
    await nextTurn();
    socket.writableLength = 10; // the kernel did not take everything
    expect(peer.send('c')).toBe(-1);
  });

  it('uncorks before a close or a terminate, so frames sent before it are not lost with the socket', () => {
    for (const end of ['close', 'terminate'] as const) {
      const socket = new FakeSocket();
      const log: string[] = [];
      const peer = peerOn(socket, log);
      peer.send('last words');
      if (end === 'close') peer.close(1001, 'bye');
      else peer.terminate();
      expect(log).toEqual([end === 'close' ? 'close 1001 with 0 held' : 'terminate with 0 held']);
      expect(socket.flushed).toHaveLength(1);
    }
  });
});
