/** The request facts every transport's handshake needs, whatever the runtime's request type. */
export interface HandshakeRequest {
  readonly url: URL;
  header(name: string): string | null;
  /** The socket's remote address, as the runtime reports it (undefined for a request made in-process). */
  readonly peer: string | undefined;
}

/** A Web Request (Bun, Deno, and Node through @hono/node-server) as a handshake. */
export function handshakeOf(request: Request, url: URL = new URL(request.url), peer?: string): HandshakeRequest {
  return { url, header: (name) => request.headers.get(name), peer };
}

/** Headers as node:http hands them over: lowercase names, repeated ones as arrays. */
export type HeaderRecord = Readonly<Record<string, string | readonly string[] | undefined>>;

export function handshakeOfHeaders(url: URL, headers: HeaderRecord, peer: string | undefined): HandshakeRequest {
  return {
    url,
    peer,
    header: (name) => {
      const value = headers[name];
      return value === undefined ? null : typeof value === 'string' ? value : value.join(', ');
    },
  };
}
