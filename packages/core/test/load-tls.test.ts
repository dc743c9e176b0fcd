import { parseConfig } from '@relaykit/contracts';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadTls } from '../src/load-config.js';

const CERT = new TextEncoder().encode('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
const KEY = new TextEncoder().encode('-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n');
const config = (() => {
  const result = parseConfig({ TLS_CERT_FILE: '/tls/cert.pem', TLS_KEY_FILE: '/tls/key.pem' });
  if (!result.ok) throw new Error(result.message);
  return result.config;
})();
const exit = (code: number): never => {
  throw new Error(`exit ${code}`);
};

afterEach(() => vi.restoreAllMocks());

describe('loadTls', () => {
  it('is undefined without TLS settings, and reads nothing', () => {
    const read = vi.fn();
    const plain = parseConfig({});
    expect(plain.ok && loadTls(plain.config, { read, keyMatchesCert: () => true }, exit)).toBeUndefined();
    expect(read).not.toHaveBeenCalled();
  });

  it('hands over the PEM bytes of both files', () => {
    const files: Record<string, Uint8Array> = { '/tls/cert.pem': CERT, '/tls/key.pem': KEY };
    expect(loadTls(config, { read: (path) => files[path]!, keyMatchesCert: () => true }, exit)).toEqual({ cert: CERT, key: KEY });
  });

  it('exits 2 naming each file that cannot be read or holds no PEM block of its kind', () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    const read = (path: string) => {
      if (path === '/tls/key.pem') throw new Error('ENOENT: no such file or directory');
      return KEY; // a key where the certificate should be
    };
    expect(() => loadTls(config, { read, keyMatchesCert: () => true }, exit)).toThrow('exit 2');
    const message = String(error.mock.calls[0]?.[0]);
    expect(message).toMatch(/TLS_CERT_FILE="\/tls\/cert.pem": holds no PEM certificate/);
    expect(message).toMatch(/TLS_KEY_FILE="\/tls\/key.pem": cannot be read \(ENOENT/);
  });

  it('exits 2 when the key is not the certificate\'s, or the pair cannot be parsed', () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    const files: Record<string, Uint8Array> = { '/tls/cert.pem': CERT, '/tls/key.pem': KEY };
    const read = (path: string) => files[path]!;
    expect(() => loadTls(config, { read, keyMatchesCert: () => false }, exit)).toThrow('exit 2');
    expect(String(error.mock.calls[0]?.[0])).toMatch(/TLS_KEY_FILE="\/tls\/key.pem": is not the private key of TLS_CERT_FILE/);
    const unparsable = () => {
      throw new Error('unsupported key');
    };
    expect(() => loadTls(config, { read, keyMatchesCert: unparsable }, exit)).toThrow('exit 2');
    expect(String(error.mock.calls[1]?.[0])).toMatch(/TLS_CERT_FILE \/ TLS_KEY_FILE: cannot be used \(unsupported key\)/);
  });
});
