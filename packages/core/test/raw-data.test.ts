import { parseConfig } from '@relaykit/contracts';
import { describe, expect, it } from 'vitest';
import { Relay, type WsPeer } from '../src/index.js';

const data = '{"a":1,"__proto__":{"polluted":true},"list":[{"__proto__":2}]}';

function relay() {
  const result = parseConfig({});
  if (!result.ok) throw new Error(result.message);
  return new Relay({ config: result.config, serverName: 'test' });
}

async function held(r: Relay, topic: string): Promise<string> {
  const answer = await r.fetch(new Request(`http://x/v1/topics/${topic}/events?after=${r.broker.position().replace(/-\d+$/, '-0')}&wait=0`));
  const body = (await answer.json()) as { events: Array<{ data: unknown }> };
  return JSON.stringify(body.events[0]!.data);
}

describe('published data is delivered exactly as sent', () => {
  it('keeps "__proto__" keys from an HTTP publish', async () => {
    const r = relay();
    const res = await r.fetch(new Request('http://x/v1/topics/t/events', { method: 'POST', body: `{"type":"x","data":${data}}` }));
    expect(res.status).toBe(201);
    expect(await held(r, 't')).toBe(data);
  });

  it('keeps "__proto__" keys from a WebSocket publish', async () => {
    const r = relay();
    const sent: string[] = [];
    const peer: WsPeer = { send: (text) => (sent.push(text), text.length), close() {}, terminate() {}, bufferedAmount: 0 };
    const session = r.openWs(peer, { id: 'p' });
    session.onText(`{"type":"publish","topic":"t","event":{"type":"x","data":${data}},"ref":1}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(sent.some((f) => f.includes('"type":"ack"'))).toBe(true);
    expect(await held(r, 't')).toBe(data);
  });
});
