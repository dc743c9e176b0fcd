/**
 * The base URLs of one cluster (instances sharing one broker, so one id sequence: a resume with the
 * last id works on any of them) and which one the client uses.
 *
 * Policy: start at a random URL, so a crowd of clients spreads over the instances; every failed
 * connection attempt, and every loss of an open connection, moves to the next URL in the list
 * (wrapping). Backing off is the caller's business once `fullRounds` says every URL has failed in
 * a row. With one URL this is exactly one-URL reconnecting: each failure is a full round.
 */
export class UrlRotation {
  private index: number;

  constructor(
    readonly urls: readonly string[],
    random: () => number,
  ) {
    this.index = Math.min(urls.length - 1, Math.floor(random() * urls.length));
  }

  get current(): string {
    return this.urls[this.index]!;
  }

  /** The next connection attempt goes to the next URL. */
  advance(): void {
    this.index = (this.index + 1) % this.urls.length;
  }

  /** The URL after `url`: where a publish that failed on `url` is retried. */
  after(url: string): string {
    return this.urls[(this.urls.indexOf(url) + 1) % this.urls.length]!;
  }

  /** After `failures` consecutive failed attempts: 0 to try the next URL at once, else the backoff round (1, 2, ...). */
  fullRounds(failures: number): number {
    return failures % this.urls.length === 0 ? failures / this.urls.length : 0;
  }
}

/** The `url` option as a list: trailing slashes cut, duplicates dropped; the page's origin when absent. */
export function clusterUrls(option: string | readonly string[] | undefined, origin: string | undefined): string[] {
  const given = option === undefined ? (origin ? [origin] : []) : typeof option === 'string' ? [option] : option;
  const urls = [...new Set(given.map((url) => url.replace(/\/+$/, '')))];
  if (urls.length === 0 || urls.some((url) => !url)) throw new Error('relaykit: give `url`, one URL or a non-empty list of them (no page origin to default to)');
  return urls;
}
