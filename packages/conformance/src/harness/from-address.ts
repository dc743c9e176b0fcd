/**
 * Requests from a chosen loopback source address (127.0.0.2, ...; Linux routes all of 127/8 to
 * lo), so that per-IP limits can be shown to count each client apart on one machine.
 */
import { Agent, request } from 'node:http';
import WebSocket from 'ws';
import { wsUrl } from './target.ts';

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

const agents = new Map<string, Agent>();
function agentFor(localAddress: string): Agent {
  let agent = agents.get(localAddress);
  if (!agent) agents.set(localAddress, (agent = new Agent({ keepAlive: true, maxSockets: 8, localAddress })));
  return agent;
}

/** One HTTP request from `localAddress`, read to its end; `stream: true` only reads the head (for an SSE stream) and returns a closer. */
export function httpFrom(
  localAddress: string,
  method: string,
  url: string,
  options: { headers?: Record<string, string>; body?: string; stream?: boolean } = {},
): Promise<Answer & { close(): void }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers: options.headers, agent: options.stream ? false : agentFor(localAddress), localAddress }, (res) => {
      const close = () => res.destroy();
      if (options.stream && res.statusCode === 200) {
        resolve({ status: 200, headers: res.headers, body: '', close });
        return;
      }
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, close }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** A WebSocket upgrade from `localAddress`: the open socket, or the refusal's status, headers and body. */
export function wsFrom(
  localAddress: string,
  base: string,
  headers: Record<string, string> = {},
): Promise<{ ws: WebSocket; status: 101 } | ({ ws: undefined } & Answer)> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(base), { perMessageDeflate: false, localAddress, headers });
    ws.once('open', () => resolve({ ws, status: 101 }));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ ws: undefined, status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    ws.once('error', (error) => reject(error));
  });
}

/** Frees the keep-alive sockets of every source address used. */
export function closeAgents(): void {
  for (const agent of agents.values()) agent.destroy();
  agents.clear();
}
