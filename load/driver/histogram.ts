/**
 * Latency trends as mergeable HDR histograms (hdr-histogram-js): each load worker records into
 * its own, ships it to the runner compressed (base64), and the runner adds the workers'
 * histograms together before it reads percentiles. Values are recorded in whole microseconds
 * (the driver rounded trend values to 0.001 ms before) with 3 significant digits: exact below
 * 2.048 ms, within 0.1 % above, which the 0.01 ms the figures are rounded to does not show below
 * ~16 ms. The maximum travels beside the histogram and stays exact.
 */
import * as hdr from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';

/** What a worker sends for one trend. */
export interface EncodedHistogram {
  /** hdr-histogram-js `encodeIntoCompressedBase64` of the µs histogram. */
  hdr: string;
  /** The exact largest value, ms (the encoding keeps only its bucket). */
  maxMs: number;
}

/** 1 µs .. 1 h, auto-resizing beyond. */
const build = (): Histogram =>
  hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3, autoResize: true });

export class LatencyHistogram {
  private readonly h: Histogram = build();
  private maxMs = Number.NEGATIVE_INFINITY;

  static decode(encoded: EncodedHistogram): LatencyHistogram {
    const out = new LatencyHistogram();
    out.h.add(hdr.decodeFromCompressedBase64(encoded.hdr));
    out.maxMs = encoded.maxMs;
    return out;
  }

  /** Records one value in ms, to the µs (negative values, clock skew between processes, count as 0). */
  record(ms: number): void {
    const us = Math.max(0, Math.round(ms * 1000));
    this.h.recordValue(us);
    if (us / 1000 > this.maxMs) this.maxMs = us / 1000;
  }

  add(other: LatencyHistogram): this {
    this.h.add(other.h);
    if (other.maxMs > this.maxMs) this.maxMs = other.maxMs;
    return this;
  }

  encode(): EncodedHistogram {
    return { hdr: hdr.encodeIntoCompressedBase64(this.h), maxMs: this.maxMs };
  }

  get count(): number {
    return this.h.totalCount;
  }

  /**
   * The value at percentile `p` (0..100) in ms, nearest rank (the value at rank ⌈p/100 × count⌉,
   * as the runner read it off the sorted raw samples before); NaN when nothing was recorded. HDR
   * answers with the top of the value's bucket, so it is capped at the exact maximum.
   */
  percentile(p: number): number {
    return this.count ? Math.min(this.h.getValueAtPercentile(p) / 1000, this.maxMs) : Number.NaN;
  }

  /** The largest value recorded, in ms; NaN when nothing was recorded. */
  max(): number {
    return this.count ? this.maxMs : Number.NaN;
  }
}

/** Adds encoded histograms (e.g. one worker's) into `into`, by trend name. */
export function mergeEncoded(into: Record<string, LatencyHistogram>, parts: Record<string, EncodedHistogram>): void {
  for (const [name, encoded] of Object.entries(parts)) {
    const h = LatencyHistogram.decode(encoded);
    const mine = into[name];
    if (mine) mine.add(h);
    else into[name] = h;
  }
}
