import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import type { TLSSocket } from 'node:tls';

/**
 * A node:http request's URL. The host part is a placeholder (core reads the Host header itself);
 * the scheme is the one the server was reached by, which same-origin checks compare with Origin.
 */
export function requestUrl(req: IncomingMessage | Http2ServerRequest): URL {
  return new URL(req.url ?? '/', (req.socket as Partial<TLSSocket>).encrypted ? 'https://localhost' : 'http://localhost');
}
