import { type Config, misspelledConfigNames, parseConfig } from '@relaykit/contracts';
import { jsonLogger } from './log.js';
import { WORKER_ENV } from './workers.js';

/**
 * Reads the config from an environment. On invalid input prints one clear message and exits 2
 * through the runtime's own exit, never a stack trace. A variable that looks like a misspelled
 * relaykit name gets one warning line naming the likely intended one (once: workers, started by
 * a process that warned already, stay quiet).
 */
export function loadConfig(env: Record<string, string | undefined>, exit: (code: number) => never, serverName = 'relaykit'): Config {
  const result = parseConfig(env);
  if (!result.ok) {
    // Plain text, not a log line: there is no valid LOG_LEVEL or server to log with yet.
    console.error(result.message);
    return exit(2);
  }
  if (!env[WORKER_ENV]) {
    const log = jsonLogger(result.config.logLevel, serverName);
    for (const { name, intended } of misspelledConfigNames(env)) {
      log.warn(`${name} is not a relaykit variable and is ignored; did you mean ${intended}?`, { variable: name, intended });
    }
  }
  return result.config;
}

/** The PEM bytes of TLS_CERT_FILE and TLS_KEY_FILE, as every runtime's TLS server takes them. */
export interface TlsFiles {
  cert: Uint8Array;
  key: Uint8Array;
}

/** The runtime's file and crypto modules, which core does not import. */
export interface TlsAccess {
  read(path: string): Uint8Array;
  /** True when `key` is the private key of `cert`'s public key; throws when either cannot be parsed. */
  keyMatchesCert(cert: Uint8Array, key: Uint8Array): boolean;
}

/**
 * Reads TLS_CERT_FILE and TLS_KEY_FILE. A file that cannot be read, holds no PEM block of its
 * kind, or a key that is not the certificate's stops the server like a bad setting: one message
 * naming the variable, exit 2 (a TLS server would otherwise crash with a stack trace, or on Deno
 * listen and fail every handshake). Undefined when TLS is not configured.
 */
export function loadTls(config: Config, access: TlsAccess, exit: (code: number) => never): TlsFiles | undefined {
  if (!config.tls) return undefined;
  const problems: string[] = [];
  const load = (name: string, path: string, pem: RegExp, kind: string): Uint8Array => {
    try {
      const bytes = access.read(path);
      if (!pem.test(new TextDecoder().decode(bytes))) problems.push(`  ${name}=${JSON.stringify(path)}: holds no PEM ${kind}`);
      return bytes;
    } catch (error) {
      problems.push(`  ${name}=${JSON.stringify(path)}: cannot be read (${error instanceof Error ? error.message : String(error)})`);
      return new Uint8Array();
    }
  };
  const cert = load('TLS_CERT_FILE', config.tls.certFile, /-----BEGIN CERTIFICATE-----/, 'certificate');
  const key = load('TLS_KEY_FILE', config.tls.keyFile, /-----BEGIN [A-Z ]*PRIVATE KEY-----/, 'private key');
  if (problems.length === 0) {
    try {
      if (access.keyMatchesCert(cert, key)) return { cert, key };
      problems.push(`  TLS_KEY_FILE=${JSON.stringify(config.tls.keyFile)}: is not the private key of TLS_CERT_FILE`);
    } catch (error) {
      problems.push(`  TLS_CERT_FILE / TLS_KEY_FILE: cannot be used (${error instanceof Error ? error.message : String(error)})`);
    }
  }
  console.error(`Invalid relaykit configuration:\n${problems.join('\n')}`);
  return exit(2);
}
