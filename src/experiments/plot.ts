/**
 * Line plots with error bars as self-contained SVG (text drawn as paths, see
 * font.ts): panels side by side in one row, as the paper's figures, each
 * with its title, axes (linear or log), a legend and ±1 standard deviation
 * bars.
 */
import { escapeXml, svgText, textWidth } from "./font.js";

export interface PlotPoint {
  x: number;
  y: number;
  /** One standard deviation on each side (omitted: none). */
  xErr?: number | null;
  yErr?: number | null;
}

export interface PlotSeries {
  name: string;
  points: PlotPoint[];
  color?: string;
  /** "none": a plain line, no point markers (the legend shows the line alone). */
  marker?: "circle" | "square" | "triangle" | "diamond" | "none";
  /** A class attribute on each point's marker (not the legend's), so that a reader can count the points. */
  markerClass?: string;
  dashed?: boolean;
}

export interface PlotPanel {
  title: string;
  xLabel: string;
  yLabel: string;
  xLog?: boolean;
  yLog?: boolean;
  /** Values the x axis spans besides the points' (e.g. the same range in every panel). */
  xInclude?: number[];
  series: PlotSeries[];
}

export interface FigureOptions {
  caption?: string;
  panelWidth?: number;
  panelHeight?: number;
}

const COLORS = ["#1f4e9c", "#d1531d", "#2a8c3a", "#8a3ea8"];
const MARKERS: NonNullable<PlotSeries["marker"]>[] = ["circle", "square", "triangle", "diamond"];
const M = { left: 66, right: 14, top: 30, bottom: 46 };
const FONT = 11;

/** The figure's SVG text and its size in pixels. */
export function renderFigure(panels: PlotPanel[], o: FigureOptions = {}): { svg: string; width: number; height: number } {
  const pw = o.panelWidth ?? 340, ph = o.panelHeight ?? 270;
  const width = pw * panels.length;
  const captionLines = o.caption ? wrap(o.caption, width - 30, FONT) : [];
  const height = ph + (captionLines.length ? captionLines.length * 15 + 10 : 0);
  const body: string[] = [];
  panels.forEach((p, i) => body.push(renderPanel(p, i * pw, 0, pw, ph)));
  captionLines.forEach((line, i) => body.push(svgText(line, width / 2, ph + 14 + i * 15, FONT, { anchor: "middle", color: "#222" })));
  const title = panels.map((p) => p.title).join(", ");
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">` +
    `<title>${escapeXml(o.caption ?? title)}</title><rect width="100%" height="100%" fill="#fff"/>${body.join("")}</svg>\n`;
  return { svg, width, height };
}

interface Axis {
  log: boolean;
  lo: number;
  hi: number;
  /** Data value to pixel. */
  px(v: number): number;
}

function axis(values: number[], log: boolean, p0: number, p1: number): Axis {
  const vs = values.filter((v) => Number.isFinite(v) && (!log || v > 0));
  let lo = vs.length ? Math.min(...vs) : log ? 0.1 : 0, hi = vs.length ? Math.max(...vs) : 1;
  if (log) {
    let a = Math.log10(lo), b = Math.log10(hi);
    if (b - a < 0.3) { a -= 0.15; b += 0.15; }
    const pad = (b - a) * 0.06;
    lo = 10 ** (a - pad); hi = 10 ** (b + pad);
  } else {
    if (hi - lo < 1e-12) { const c = lo; lo = c - Math.max(Math.abs(c) * 1e-3, 1e-4); hi = c + Math.max(Math.abs(c) * 1e-3, 1e-4); }
    const pad = (hi - lo) * 0.08;
    lo -= pad; hi += pad;
  }
  const f = (v: number): number => (log ? Math.log10(v) : v);
  const a = f(lo), b = f(hi);
  return { log, lo, hi, px: (v) => p0 + ((f(v) - a) / (b - a)) * (p1 - p0) };
}

interface Tick { v: number; label?: string; exp?: string; minor?: boolean }

function ticks(ax: Axis): Tick[] {
  if (ax.log) {
    const out: Tick[] = [];
    const a = Math.floor(Math.log10(ax.lo)), b = Math.ceil(Math.log10(ax.hi));
    // Fewer than 3 powers of 10 in range: label 2x and 5x too.
    let powers = 0;
    for (let e = a; e <= b; e++) if (10 ** e >= ax.lo && 10 ** e <= ax.hi) powers++;
    for (let e = a; e <= b; e++) {
      for (const m of [1, 2, 3, 4, 5, 6, 7, 8, 9]) {
        const v = m * 10 ** e;
        if (v < ax.lo || v > ax.hi) continue;
        if (m === 1) out.push({ v, label: "10", exp: String(e) });
        else if (powers < 3 && (m === 2 || m === 5)) out.push({ v, label: `${m}×10`, exp: String(e) });
        else out.push({ v, minor: true });
      }
    }
    return out;
  }
  const span = ax.hi - ax.lo, raw = span / 5, mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => span / s <= 6) ?? 10 * mag;
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9) + (Math.abs(step / mag - 2.5) < 1e-9 ? 1 : 0));
  const out: Tick[] = [];
  for (let v = Math.ceil(ax.lo / step) * step; v <= ax.hi + step * 1e-9; v += step) out.push({ v, label: v.toFixed(decimals) });
  return out;
}

function renderPanel(p: PlotPanel, ox: number, oy: number, w: number, h: number): string {
  const x0 = ox + M.left, x1 = ox + w - M.right, y0 = oy + h - M.bottom, y1 = oy + M.top;
  const all = p.series.flatMap((s) => s.points);
  const xs = all.flatMap((q) => [q.x, q.x - (q.xErr ?? 0), q.x + (q.xErr ?? 0)]).concat(p.xInclude ?? []).filter((v) => !p.xLog || v > 0);
  const ys = all.flatMap((q) => [q.y, q.y - (q.yErr ?? 0), q.y + (q.yErr ?? 0)]).filter((v) => !p.yLog || v > 0);
  const X = axis(xs, !!p.xLog, x0, x1), Y = axis(ys, !!p.yLog, y0, y1);
  const o: string[] = [];
  o.push(`<g>`);
  o.push(svgText(p.title, (x0 + x1) / 2, oy + 19, FONT + 2, { anchor: "middle", weight: 1.2 }));
  // grid and ticks
  for (const t of ticks(X)) {
    const x = X.px(t.v);
    if (!t.minor) o.push(`<line x1="${f(x)}" y1="${f(y1)}" x2="${f(x)}" y2="${f(y0)}" stroke="#e4e4e4" stroke-width="0.8"/>`);
    o.push(`<line x1="${f(x)}" y1="${f(y0)}" x2="${f(x)}" y2="${f(y0 + (t.minor ? 3 : 5))}" stroke="#000" stroke-width="0.8"/>`);
    if (t.label) o.push(tickLabel(t, x, y0 + 17, "middle"));
  }
  for (const t of ticks(Y)) {
    const y = Y.px(t.v);
    if (!t.minor) o.push(`<line x1="${f(x0)}" y1="${f(y)}" x2="${f(x1)}" y2="${f(y)}" stroke="#e4e4e4" stroke-width="0.8"/>`);
    o.push(`<line x1="${f(x0 - (t.minor ? 3 : 5))}" y1="${f(y)}" x2="${f(x0)}" y2="${f(y)}" stroke="#000" stroke-width="0.8"/>`);
    if (t.label) o.push(tickLabel(t, x0 - 8, y + 4, "end"));
  }
  o.push(`<rect x="${f(x0)}" y="${f(y1)}" width="${f(x1 - x0)}" height="${f(y0 - y1)}" fill="none" stroke="#000" stroke-width="1"/>`);
  o.push(svgText(p.xLabel, (x0 + x1) / 2, y0 + 37, FONT, { anchor: "middle" }));
  o.push(svgText(p.yLabel, ox + 14, (y0 + y1) / 2, FONT, { anchor: "middle", rotate: -90 }));
  // series
  p.series.forEach((s, k) => {
    const color = s.color ?? COLORS[k % COLORS.length], marker = s.marker ?? MARKERS[k % MARKERS.length];
    const pts = s.points.filter((q) => Number.isFinite(q.x) && Number.isFinite(q.y) && (!p.xLog || q.x > 0) && (!p.yLog || q.y > 0)).sort((a, b) => a.x - b.x);
    if (pts.length > 1) {
      o.push(`<polyline points="${pts.map((q) => `${f(X.px(q.x))},${f(Y.px(q.y))}`).join(" ")}" fill="none" stroke="${color}" stroke-width="1.6"${s.dashed ? ' stroke-dasharray="5 3"' : ""}/>`);
    }
    for (const q of pts) {
      const cx = X.px(q.x), cy = Y.px(q.y);
      if (q.yErr) {
        const lo = Y.px(p.yLog ? Math.max(q.y - q.yErr, Y.lo) : q.y - q.yErr), hi = Y.px(q.y + q.yErr);
        o.push(`<path d="M${f(cx)} ${f(lo)}V${f(hi)}M${f(cx - 3.5)} ${f(lo)}h7M${f(cx - 3.5)} ${f(hi)}h7" stroke="${color}" stroke-width="1.1" fill="none"/>`);
      }
      if (q.xErr) {
        const lo = X.px(p.xLog ? Math.max(q.x - q.xErr, X.lo) : q.x - q.xErr), hi = X.px(q.x + q.xErr);
        o.push(`<path d="M${f(lo)} ${f(cy)}H${f(hi)}M${f(lo)} ${f(cy - 3.5)}v7M${f(hi)} ${f(cy - 3.5)}v7" stroke="${color}" stroke-width="1.1" fill="none"/>`);
      }
      o.push(markerSvg(marker, cx, cy, color, s.markerClass));
    }
  });
  o.push(legend(p, X, Y, x0, x1, y0, y1));
  o.push(`</g>`);
  return o.join("");
}

function tickLabel(t: Tick, x: number, y: number, anchor: "middle" | "end"): string {
  if (t.exp === undefined) return svgText(t.label!, x, y, FONT - 1, { anchor });
  const base = t.label!, sup = t.exp.replace("-", "−");
  const wb = textWidth(base, FONT - 1), ws = textWidth(sup, FONT - 3);
  const start = anchor === "middle" ? x - (wb + ws + 1) / 2 : x - (wb + ws + 1);
  return svgText(base, start, y, FONT - 1) + svgText(sup, start + wb + 1, y - 5, FONT - 3);
}

function markerSvg(m: NonNullable<PlotSeries["marker"]>, x: number, y: number, c: string, cls?: string): string {
  const r = 3.6, a = cls ? ` class="${escapeXml(cls)}"` : "";
  if (m === "none") return "";
  if (m === "circle") return `<circle${a} cx="${f(x)}" cy="${f(y)}" r="${r}" fill="${c}" stroke="#fff" stroke-width="0.8"/>`;
  if (m === "square") return `<rect${a} x="${f(x - r)}" y="${f(y - r)}" width="${2 * r}" height="${2 * r}" fill="${c}" stroke="#fff" stroke-width="0.8"/>`;
  if (m === "triangle") return `<path${a} d="M${f(x)} ${f(y - r * 1.2)}L${f(x + r * 1.1)} ${f(y + r * 0.8)}H${f(x - r * 1.1)}Z" fill="${c}" stroke="#fff" stroke-width="0.8"/>`;
  return `<path${a} d="M${f(x)} ${f(y - r * 1.3)}L${f(x + r)} ${f(y)}L${f(x)} ${f(y + r * 1.3)}L${f(x - r)} ${f(y)}Z" fill="${c}" stroke="#fff" stroke-width="0.8"/>`;
}

/** The legend, in the plot corner with the fewest points. */
function legend(p: PlotPanel, X: Axis, Y: Axis, x0: number, x1: number, y0: number, y1: number): string {
  const lw = Math.max(...p.series.map((s) => textWidth(s.name, FONT - 1))) + 34, lh = p.series.length * 15 + 8;
  const corners = [[x0 + 6, y1 + 6], [x1 - lw - 6, y1 + 6], [x0 + 6, y0 - lh - 6], [x1 - lw - 6, y0 - lh - 6]];
  const pts = p.series.flatMap((s) => s.points).filter((q) => Number.isFinite(q.x) && Number.isFinite(q.y) && (!X.log || q.x > 0) && (!Y.log || q.y > 0)).map((q) => [X.px(q.x), Y.px(q.y)]);
  let best = corners[0], bestN = Infinity;
  for (const c of corners) {
    const n = pts.filter(([x, y]) => x >= c[0] - 8 && x <= c[0] + lw + 8 && y >= c[1] - 8 && y <= c[1] + lh + 8).length;
    if (n < bestN) { bestN = n; best = c; }
  }
  const [lx, ly] = best;
  const o = [`<rect x="${f(lx)}" y="${f(ly)}" width="${f(lw)}" height="${f(lh)}" fill="#fff" fill-opacity="0.9" stroke="#999" stroke-width="0.7"/>`];
  p.series.forEach((s, k) => {
    const color = s.color ?? COLORS[k % COLORS.length], marker = s.marker ?? MARKERS[k % MARKERS.length];
    const y = ly + 12 + k * 15;
    o.push(`<line x1="${f(lx + 5)}" y1="${f(y)}" x2="${f(lx + 25)}" y2="${f(y)}" stroke="${color}" stroke-width="1.6"${s.dashed ? ' stroke-dasharray="5 3"' : ""}/>`);
    o.push(markerSvg(marker, lx + 15, y, color));
    o.push(svgText(s.name, lx + 30, y + 4, FONT - 1));
  });
  return o.join("");
}

function wrap(text: string, width: number, size: number): string[] {
  const lines: string[] = [];
  let cur = "";
  for (const word of text.split(/\s+/)) {
    const next = cur ? `${cur} ${word}` : word;
    if (cur && textWidth(next, size) > width) { lines.push(cur); cur = word; } else cur = next;
  }
  if (cur) lines.push(cur);
  return lines;
}

function f(v: number): string {
  return (Math.round(v * 100) / 100).toString();
}
