/** Number formatting and the median, shared by the report's sections. */

export const med = (xs: number[]): number => {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (!v.length) return Number.NaN;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
};
/** Fixed to `d` decimals; — when not measured. */
export const f1 = (x: number | undefined, d = 1) => (x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(d));
/** Rounded with thousands separators; — when not measured. */
export const f0 = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '—' : Math.round(x).toLocaleString('en-US'));
/** A target id short enough for a chart's axis. */
export const short = (id: string) => id.replace('relaykit-', 'rk-').replace('peer-', '');
