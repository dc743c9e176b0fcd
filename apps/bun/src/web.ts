import type { HandshakeRequest } from '@relaykit/core';

/** Bun already speaks Web Request/Response: the handshake reads the request's own headers. */
export function handshakeOf(req: Request, url: URL): HandshakeRequest {
  return { url, header: (name) => req.headers.get(name) };
}
