/**
 * SSE for the k6 adapter through the community extension xk6-sse. Only the SSE scripts import
 * this module, so the WebSocket scripts run on a stock k6. Build k6 with it:
 *   xk6 build --with github.com/phymbert/xk6-sse@latest
 * sse.open blocks its VU until the stream closes: one stream per VU, and k6 timers do not run
 * meanwhile, so the hold deadline is checked whenever an event arrives.
 */
import sse from 'k6/x/sse';
import type { Conn } from '../scenarios/env.ts';
import type { SseOpener } from './adapter.ts';

export const xk6Sse: SseOpener = (url, h, { closeAfterMs }, tags) => {
  const deadline = Date.now() + closeAfterMs;
  let client: { close(): void } | undefined;
  let closed = false;
  const conn: Conn = {
    send: () => {
      throw new Error('an SSE stream is receive-only');
    },
    close: () => {
      closed = true;
      client?.close();
    },
  };
  const response = sse.open(url, { method: 'GET', headers: { accept: 'text/event-stream' }, tags }, (c) => {
    client = c;
    c.on('open', () => h.onOpen?.(conn));
    c.on('event', (event) => {
      h.onEvent(event.name || 'message', event.data, conn);
      if (!closed && Date.now() >= deadline) conn.close();
    });
    c.on('error', (error) => h.onError?.(error.error()));
  });
  if (!response || response.status !== 200) h.onError?.(`status ${response?.status}`);
  h.onClose?.();
  return conn;
};
