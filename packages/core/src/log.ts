import type { LogLevel } from '@relaykit/contracts';

const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

export type LogFields = Record<string, unknown>;

/** Where relaykit reports what happens: one call per event, with structured fields. */
export interface Logger {
  error(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  debug(message: string, fields?: LogFields): void;
  /** False for a level that would be dropped, so hot paths (connection churn) build no fields. */
  enabled(level: LogLevel): boolean;
}

/** An Error as plain fields: JSON.stringify drops an Error's own properties. */
function plain(value: unknown): unknown {
  if (!(value instanceof Error)) return value;
  return { name: value.name, message: value.message, stack: value.stack, ...(value.cause ? { cause: plain(value.cause) } : {}) };
}

/**
 * The default logger: one JSON line per event on stdout (errors and warnings on stderr), with
 * `time`, `level`, `server` and `msg`, and anything below `level` dropped before it is formatted.
 */
export function jsonLogger(
  level: LogLevel,
  server: string,
  write: (line: string, level: LogLevel) => void = (line, at) => (RANK[at] <= RANK.warn ? console.error(line) : console.log(line)),
): Logger {
  const max = RANK[level];
  const log = (at: LogLevel) => (message: string, fields: LogFields = {}) => {
    if (RANK[at] > max) return;
    const entry: LogFields = { time: new Date().toISOString(), level: at, server, msg: message };
    for (const [key, value] of Object.entries(fields)) entry[key] = plain(value);
    write(JSON.stringify(entry), at);
  };
  return {
    error: log('error'),
    warn: log('warn'),
    info: log('info'),
    debug: log('debug'),
    enabled: (at) => RANK[at] <= max,
  };
}
