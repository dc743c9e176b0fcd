import { type Config, parseConfig } from '@relaykit/contracts';

/**
 * Reads the config from an environment. On invalid input prints one clear message and exits 2
 * through the runtime's own exit, never a stack trace.
 */
export function loadConfig(env: Record<string, string | undefined>, exit: (code: number) => never): Config {
  const result = parseConfig(env);
  if (result.ok) return result.config;
  // Plain text, not a log line: there is no valid LOG_LEVEL or server to log with yet.
  console.error(result.message);
  return exit(2);
}
