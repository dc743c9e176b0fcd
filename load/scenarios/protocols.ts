import type { HttpRequest } from './env.ts';

export type Transport = 'ws' | 'sse';

/** What a server frame meant to a load client. */
export interface Reaction {
  kind: 'subscribed' | 'event' | 'ack' | 'error' | 'other';
  /** Frames to send back (a subscribe after welcome, a pong...). */
  reply?: string[];
  /** Publish time carried in the event's data (`t`), when it is an event. */
  t?: number;
  /** More events carried in the same frame (protocols that batch frames, e.g. Centrifugo). */
  more?: Array<number | undefined>;
}

/**
 * A wire protocol as seen by load clients. relaykit and the bare baselines speak relaykit's
 * protocol; the peers (Socket.IO, Centrifugo) speak their own, so the same scenarios drive them.
 */
export interface Protocol {
  readonly name: string;
  readonly transports: readonly Transport[];
  wsUrl(base: string): string;
  sseUrl(base: string, topics: readonly string[]): string;
  /** Frames to send as soon as the socket opens. */
  onOpen(topics: readonly string[]): string[];
  onMessage(text: string, topics: readonly string[]): Reaction;
  /** The HTTP request that publishes one event whose data is the JSON text `dataJson`. */
  publish(base: string, topic: string, dataJson: string): HttpRequest;
  /** A WebSocket publish frame answered by an ack carrying `ref` (relaykit only). */
  wsPublish?(topic: string, dataJson: string, ref: number): string;
}

const toWs = (base: string) => base.replace(/^http/, 'ws');

/** Reads the number after `"t":` without parsing the whole frame (clients must stay cheap). */
export function extractT(text: string): number | undefined {
  const i = text.indexOf('"t":');
  if (i < 0) return undefined;
  let j = i + 4;
  while (j < text.length) {
    const c = text.charCodeAt(j);
    if (c === 44 /* , */ || c === 125 /* } */) break;
    j++;
  }
  const t = Number(text.slice(i + 4, j));
  return Number.isFinite(t) ? t : undefined;
}

export const relaykit: Protocol = {
  name: 'relaykit',
  transports: ['ws', 'sse'],
  wsUrl: (base) => `${toWs(base)}/v1/ws`,
  sseUrl: (base, topics) => `${base}/v1/events?${topics.map((t) => `topic=${encodeURIComponent(t)}`).join('&')}`,
  onOpen: () => [],
  onMessage(text, topics) {
    // Servers encode event frames once as `{"type":"event","event":...}`: skip JSON.parse on the hot path.
    if (text.startsWith('{"type":"event"')) return { kind: 'event', t: extractT(text) };
    let frame: { type?: string; ref?: unknown };
    try {
      frame = JSON.parse(text) as { type?: string };
    } catch {
      return { kind: 'error' };
    }
    switch (frame.type) {
      case 'welcome':
        return { kind: 'other', reply: [JSON.stringify({ type: 'subscribe', topics })] };
      case 'subscribed':
        return { kind: 'subscribed' };
      case 'event':
        return { kind: 'event', t: extractT(text) };
      case 'ack':
        return { kind: 'ack' };
      case 'error':
        return { kind: 'error' };
      default:
        return { kind: 'other' };
    }
  },
  publish: (base, topic, dataJson) => ({
    url: `${base}/v1/topics/${encodeURIComponent(topic)}/events`,
    body: `{"type":"bench","data":${dataJson}}`,
    headers: { 'content-type': 'application/json' },
  }),
  wsPublish: (topic, dataJson, ref) => `{"type":"publish","topic":"${topic}","event":{"type":"bench","data":${dataJson}},"ref":${ref}}`,
};

/**
 * Socket.IO v4 over a bare WebSocket (Engine.IO 4 framing): `0{...}` open, `40` connect, `2`/`3`
 * ping/pong, `42[...]` events. The peer server (load/peers/socketio-server.ts) joins a room on
 * `subscribe` and answers `subscribed`.
 */
export const socketio: Protocol = {
  name: 'socket.io',
  transports: ['ws'],
  wsUrl: (base) => `${toWs(base)}/socket.io/?EIO=4&transport=websocket`,
  sseUrl: () => {
    throw new Error('Socket.IO has no SSE transport');
  },
  onOpen: () => [],
  onMessage(text, topics) {
    if (text.startsWith('42["event"')) return { kind: 'event', t: extractT(text) };
    if (text === '2') return { kind: 'other', reply: ['3'] };
    if (text.startsWith('0')) return { kind: 'other', reply: ['40'] };
    if (text.startsWith('40')) return { kind: 'other', reply: [`42${JSON.stringify(['subscribe', topics])}`] };
    if (text.startsWith('42["subscribed"')) return { kind: 'subscribed' };
    if (text.startsWith('44') || text.startsWith('1')) return { kind: 'error' };
    return { kind: 'other' };
  },
  publish: (base, topic, dataJson) => ({
    url: `${base}/v1/topics/${encodeURIComponent(topic)}/events`,
    body: `{"type":"bench","data":${dataJson}}`,
    headers: { 'content-type': 'application/json' },
  }),
};

/**
 * Centrifugo v6 JSON protocol over WebSocket: connect + subscribe commands in one frame
 * (newline-delimited), `{}` pings answered with `{}`, publications as `push.pub`.
 * Publishing goes through its server HTTP API with an API key.
 */
export function centrifugo(apiKey: string): Protocol {
  return {
    name: 'centrifugo',
    transports: ['ws'],
    wsUrl: (base) => `${toWs(base)}/connection/websocket`,
    sseUrl: () => {
      throw new Error('the Centrifugo peer is driven over WebSocket only');
    },
    onOpen: (topics) => [
      [JSON.stringify({ id: 1, connect: {} }), ...topics.map((channel, i) => JSON.stringify({ id: i + 2, subscribe: { channel } }))].join('\n'),
    ],
    onMessage(text) {
      if (text === '{}') return { kind: 'other', reply: ['{}'] };
      if (text.startsWith('{"push"') && !text.includes('\n')) return { kind: 'event', t: extractT(text) };
      // Under load Centrifugo batches replies, pushes and pings in one frame, one JSON per line:
      // every ping in a batch needs its pong (else it disconnects with 3012 "no pong").
      let subscribed = false;
      let error = false;
      let pong = false;
      const events: Array<number | undefined> = [];
      for (const line of text.split('\n')) {
        if (line === '{}') pong = true;
        else if (line.startsWith('{"push"')) events.push(extractT(line));
        else if (line.includes('"error"')) error = true;
        else if (line.includes('"subscribe"')) subscribed = true;
      }
      const reply = pong ? { reply: ['{}'] } : {};
      if (error) return { kind: 'error', ...reply };
      if (events.length) return { kind: 'event', t: events[0], more: events.slice(1), ...reply };
      return { kind: subscribed ? 'subscribed' : 'other', ...reply };
    },
    publish: (base, topic, dataJson) => ({
      url: `${base}/api/publish`,
      body: `{"channel":"${topic}","data":${dataJson}}`,
      headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
    }),
  };
}

export function protocolByName(name: string, apiKey = ''): Protocol {
  if (name === 'relaykit') return relaykit;
  if (name === 'socket.io') return socketio;
  if (name === 'centrifugo') return centrifugo(apiKey);
  throw new Error(`unknown protocol ${name}`);
}
