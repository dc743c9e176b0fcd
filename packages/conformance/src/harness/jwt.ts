import { type KeyObject, createHmac, generateKeyPairSync, sign } from 'node:crypto';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * JWTs signed here with node:crypto (no library shared with the servers), and a JWKS served from
 * this process on a loopback port, for the auth cases.
 */
const b64url = (value: string | Buffer) => Buffer.from(value).toString('base64url');
const nowS = () => Math.floor(Date.now() / 1000);

function encode(header: Record<string, unknown>, payload: Record<string, unknown>): string {
  return `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify({ iat: nowS(), ...payload }))}`;
}

/** An HS256 JWT. */
export function signHs256(payload: Record<string, unknown>, secret: string): string {
  const input = encode({ alg: 'HS256', typ: 'JWT' }, payload);
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/** `exp` this many seconds from now (whole seconds, as JWTs count). */
export const expIn = (seconds: number): number => nowS() + seconds;

export interface SigningKey {
  alg: 'ES256' | 'RS256';
  kid: string;
  privateKey: KeyObject;
  /** The public key as a JWK, with `kid`, `alg` and `use`. */
  jwk: Record<string, unknown>;
}

export function signingKey(alg: 'ES256' | 'RS256', kid: string): SigningKey {
  const { privateKey, publicKey } =
    alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { alg, kid, privateKey, jwk: { ...publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' } };
}

/** A JWT signed with an ES256 (raw r||s, as JWS wants) or RS256 key. */
export function signAsymmetric(key: SigningKey, payload: Record<string, unknown>): string {
  const input = encode({ alg: key.alg, typ: 'JWT', kid: key.kid }, payload);
  const signature = sign('sha256', Buffer.from(input), key.alg === 'ES256' ? { key: key.privateKey, dsaEncoding: 'ieee-p1363' } : key.privateKey);
  return `${input}.${signature.toString('base64url')}`;
}

export interface JwksServer {
  url: string;
  /** How many times the set was fetched. */
  fetches(): number;
  close(): Promise<void>;
}

/** Serves `{keys: [...]}` at /.well-known/jwks.json on 127.0.0.1 and a free port. */
export async function serveJwks(keys: readonly SigningKey[]): Promise<JwksServer> {
  let fetches = 0;
  const body = JSON.stringify({ keys: keys.map((k) => k.jwk) });
  const server: Server = createServer((req, res) => {
    if (req.url !== '/.well-known/jwks.json') return void res.writeHead(404).end();
    fetches++;
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    fetches: () => fetches,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
