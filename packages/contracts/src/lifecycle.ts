/**
 * The line every relaykit server prints once it accepts connections. Tests, the load runner and
 * start-all wait for it; a server in any language passes the conformance suite's --cmd by printing
 * it. It may stand inside a JSON log line, hence the URL stops at a quote.
 */
export const LISTENING_LINE = /relaykit (\S+) listening on (https?:\/\/[^\s"]+)/;

export function listeningLine(server: string, url: string): string {
  return `relaykit ${server} listening on ${url}`;
}
