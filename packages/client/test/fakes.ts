/** Stand-ins for the network the client tests drive by hand: SSE bodies, JSON answers, a WebSocket. */

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function until(check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await sleep(5);
  }
}

export const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

/** An SSE response whose bytes the test writes. */
export function sseStream() {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
  const utf8 = new TextEncoder();
  return {
    response: new Response(body, { headers: { 'content-type': 'text/event-stream' } }),
    write: (text: string) => controller.enqueue(utf8.encode(text)),
    end: () => controller.close(),
  };
}

export const envelope = (id: string, topic = 't') => ({ id, topic, type: 'x', data: { id }, time: 1 });
export const sseEvent = (id: string, topic = 't') => `id: ${id}\nevent: x\ndata: ${JSON.stringify(envelope(id, topic))}\n\n`;

/** A WebSocket stand-in driven by the test. */
export class FakeSocket {
  static instances: FakeSocket[] = [];
  /** Refuse every upgrade, or those whose URL starts with one of these. */
  static refuse: boolean | string[] = false;
  /** Leave subscribes unanswered: the test answers them. */
  static holdSubscribed = false;
  readyState = 0;
  sent: Record<string, unknown>[] = [];
  onmessage: ((e: { data: string }) => void) | null = null;
  onclose: ((e: { code: number; reason: string }) => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.instances.push(this);
    setTimeout(() => {
      const { refuse } = FakeSocket;
      if (refuse === true || (Array.isArray(refuse) && refuse.some((prefix) => url.startsWith(prefix)))) return this.onclose?.({ code: 1006, reason: '' });
      this.readyState = 1;
      this.receive({ type: 'welcome', version: '1', connectionId: 'c', heartbeatMs: 1000, historySize: 10, maxMessageBytes: 1000, maxTopics: 10, position: 'p-0', server: 'fake' });
    }, 1);
  }
  /** Records what the client sent; a subscribe is answered as a server answers it. */
  send(text: string) {
    const frame = JSON.parse(text) as Record<string, unknown>;
    this.sent.push(frame);
    if (frame.type === 'subscribe' && !FakeSocket.holdSubscribed) {
      setTimeout(() => this.readyState === 1 && this.receive({ type: 'subscribed', topics: frame.topics, ...(frame.ref === undefined ? {} : { ref: frame.ref }) }), 0);
    }
  }
  close() {
    this.readyState = 3;
  }
  receive(frame: unknown) {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
  ofType(type: string) {
    return this.sent.filter((f) => f.type === type);
  }
  drop() {
    this.readyState = 3;
    this.onclose?.({ code: 1006, reason: '' });
  }
}
