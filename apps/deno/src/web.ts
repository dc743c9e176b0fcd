import type { HandshakeRequest } from '@relaykit/core';

/** Deno.serve already hands us a Web Request: the HTTP API takes it as is, the handshakes read it. */
export function handshakeOf(req: Request, url: URL): HandshakeRequest {
  return { url, header: (name) => req.headers.get(name) };
}
