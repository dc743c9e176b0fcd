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
