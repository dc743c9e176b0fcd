/** Small hand-written SVG charts (no dependency): line charts and grouped bar charts. */

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

const fmt = (v: number) => (Math.abs(v) >= 1000 ? `${Math.round(v / 100) / 10}k` : `${Math.round(v * 100) / 100}`);

export interface Series {
  name: string;
  points: Array<[number, number]>;
  dashed?: boolean;
}

interface Frame {
  title: string;
  xLabel: string;
  yLabel: string;
  width?: number;
  height?: number;
}

function frame(f: Frame, xMax: number, yMax: number, legend: string[], dashed: boolean[] = []) {
  const W = f.width ?? 760;
  const H = f.height ?? 420;
  const L = 70;
  const R = 220;
  const T = 40;
  const B = 50;
  const pw = W - L - R;
  const ph = H - T - B;
  const x = (v: number) => L + (v / xMax) * pw;
  const y = (v: number) => T + ph - (v / yMax) * ph;
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, sans-serif" font-size="12">\n`;
  svg += `<rect width="${W}" height="${H}" fill="white"/>\n<text x="${W / 2 - R / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(f.title)}</text>\n`;
  for (let i = 0; i <= 5; i++) {
    const v = (yMax * i) / 5;
    svg += `<line x1="${L}" x2="${L + pw}" y1="${y(v)}" y2="${y(v)}" stroke="#e5e5e5"/><text x="${L - 6}" y="${y(v) + 4}" text-anchor="end">${fmt(v)}</text>\n`;
  }
  svg += `<line x1="${L}" x2="${L}" y1="${T}" y2="${T + ph}" stroke="#333"/><line x1="${L}" x2="${L + pw}" y1="${T + ph}" y2="${T + ph}" stroke="#333"/>\n`;
  svg += `<text x="${L + pw / 2}" y="${H - 10}" text-anchor="middle">${esc(f.xLabel)}</text>\n`;
  svg += `<text transform="translate(16 ${T + ph / 2}) rotate(-90)" text-anchor="middle">${esc(f.yLabel)}</text>\n`;
  legend.forEach((name, i) => {
    const ly = T + 10 + i * 18;
    svg += `<line x1="${L + pw + 16}" x2="${L + pw + 40}" y1="${ly}" y2="${ly}" stroke="${PALETTE[i % PALETTE.length]}" stroke-width="3"${dashed[i] ? ' stroke-dasharray="6 4"' : ''}/><text x="${L + pw + 46}" y="${ly + 4}">${esc(name)}</text>\n`;
  });
  return { svg, x, y, L, T, pw, ph, W, H };
}

export function lineChart(f: Frame, series: Series[]): string {
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1]));
  const xMax = niceMax(Math.max(1, ...xs));
  const yMax = niceMax(Math.max(0, ...ys.filter(Number.isFinite)));
  const fr = frame(f, xMax, yMax, series.map((s) => s.name), series.map((s) => !!s.dashed));
  let svg = fr.svg;
  for (let i = 0; i <= 4; i++) {
    const v = (xMax * i) / 4;
    svg += `<text x="${fr.x(v)}" y="${fr.T + fr.ph + 16}" text-anchor="middle">${fmt(v)}</text>\n`;
  }
  series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length];
    const pts = s.points.filter((p) => Number.isFinite(p[1])).sort((a, b) => a[0] - b[0]);
    if (!pts.length) return;
    svg += `<polyline fill="none" stroke="${color}" stroke-width="2.5"${s.dashed ? ' stroke-dasharray="6 4"' : ''} points="${pts.map(([px, py]) => `${fr.x(px).toFixed(1)},${fr.y(py).toFixed(1)}`).join(' ')}"/>\n`;
    for (const [px, py] of pts) svg += `<circle cx="${fr.x(px).toFixed(1)}" cy="${fr.y(py).toFixed(1)}" r="3.5" fill="${color}"><title>${esc(s.name)}: ${fmt(px)} → ${fmt(py)}</title></circle>\n`;
  });
  return `${svg}</svg>\n`;
}

/** Grouped bars: one group per category, one bar per series. */
export function barChart(f: Frame, categories: string[], series: Array<{ name: string; values: number[] }>): string {
  const yMax = niceMax(Math.max(0, ...series.flatMap((s) => s.values.filter(Number.isFinite))));
  const fr = frame(f, 1, yMax, series.map((s) => s.name));
  let svg = fr.svg;
  const groupW = fr.pw / Math.max(1, categories.length);
  const barW = (groupW * 0.8) / Math.max(1, series.length);
  categories.forEach((cat, ci) => {
    const gx = fr.L + ci * groupW + groupW * 0.1;
    svg += `<text x="${gx + groupW * 0.4}" y="${fr.T + fr.ph + 16}" text-anchor="middle">${esc(cat)}</text>\n`;
    series.forEach((s, si) => {
      const v = s.values[ci];
      if (v === undefined || !Number.isFinite(v)) return;
      const bx = gx + si * barW;
      svg += `<rect x="${bx.toFixed(1)}" y="${fr.y(v).toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(fr.T + fr.ph - fr.y(v)).toFixed(1)}" fill="${PALETTE[si % PALETTE.length]}"><title>${esc(s.name)} ${esc(cat)}: ${fmt(v)}</title></rect>\n`;
      if (barW > 22) svg += `<text x="${(bx + barW / 2 - 1).toFixed(1)}" y="${(fr.y(v) - 3).toFixed(1)}" text-anchor="middle" font-size="10">${fmt(v)}</text>\n`;
    });
  });
  return `${svg}</svg>\n`;
}
