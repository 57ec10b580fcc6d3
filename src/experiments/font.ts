/**
 * A small stroke font, drawn as SVG paths, so that figures carry their text
 * in the SVG itself: the PNG renderer (resvg in WebAssembly) has no system
 * fonts, and the same figure renders to the same pixels everywhere.
 *
 * Glyphs are polylines on a grid: x from 0 to the glyph's width, y from 0
 * (cap height) to 8 (baseline), lowercase x-height at 3, descenders to 10.
 * Polylines are separated by "|", coordinates by spaces.
 */
const GLYPHS: Record<string, [number, string]> = {
  A: [4, "0 8 2 0 4 8|0.8 5 3.2 5"],
  B: [4, "0 8 0 0 3 0 4 1 4 3 3 4 0 4|3 4 4 5 4 7 3 8 0 8"],
  C: [4, "4 1 3 0 1 0 0 1 0 7 1 8 3 8 4 7"],
  D: [4, "0 0 0 8 3 8 4 7 4 1 3 0 0 0"],
  E: [4, "4 0 0 0 0 8 4 8|0 4 3 4"],
  F: [4, "4 0 0 0 0 8|0 4 3 4"],
  G: [4, "4 1 3 0 1 0 0 1 0 7 1 8 3 8 4 7 4 4 2 4"],
  H: [4, "0 0 0 8|4 0 4 8|0 4 4 4"],
  I: [2, "0 0 2 0|1 0 1 8|0 8 2 8"],
  J: [4, "4 0 4 7 3 8 1 8 0 7"],
  K: [4, "0 0 0 8|4 0 0 5|1.2 4 4 8"],
  L: [4, "0 0 0 8 4 8"],
  M: [5, "0 8 0 0 2.5 5 5 0 5 8"],
  N: [4, "0 8 0 0 4 8 4 0"],
  O: [4, "1 0 3 0 4 1 4 7 3 8 1 8 0 7 0 1 1 0"],
  P: [4, "0 8 0 0 3 0 4 1 4 3 3 4 0 4"],
  Q: [4, "1 0 3 0 4 1 4 7 3 8 1 8 0 7 0 1 1 0|2.5 6 4 8.5"],
  R: [4, "0 8 0 0 3 0 4 1 4 3 3 4 0 4|2 4 4 8"],
  S: [4, "4 1 3 0 1 0 0 1 0 3 1 4 3 4 4 5 4 7 3 8 1 8 0 7"],
  T: [4, "0 0 4 0|2 0 2 8"],
  U: [4, "0 0 0 7 1 8 3 8 4 7 4 0"],
  V: [4, "0 0 2 8 4 0"],
  W: [5, "0 0 1.2 8 2.5 3 3.8 8 5 0"],
  X: [4, "0 0 4 8|4 0 0 8"],
  Y: [4, "0 0 2 4 4 0|2 4 2 8"],
  Z: [4, "0 0 4 0 0 8 4 8"],
  a: [3.5, "3.5 3 3.5 8|3.5 4 2.5 3 1 3 0 4 0 7 1 8 2.5 8 3.5 7"],
  b: [3.5, "0 0 0 8|0 4 1 3 2.5 3 3.5 4 3.5 7 2.5 8 1 8 0 7"],
  c: [3.5, "3.5 4 2.5 3 1 3 0 4 0 7 1 8 2.5 8 3.5 7"],
  d: [3.5, "3.5 0 3.5 8|3.5 4 2.5 3 1 3 0 4 0 7 1 8 2.5 8 3.5 7"],
  e: [3.5, "0 5.5 3.5 5.5 3.5 4 2.5 3 1 3 0 4 0 7 1 8 2.5 8 3.5 7.2"],
  f: [3, "3 0.3 2.5 0 1.8 0 1 0.8 1 8|0 3 2.8 3"],
  g: [3.5, "3.5 3 3.5 9 2.5 10 1 10 0.2 9.3|3.5 4 2.5 3 1 3 0 4 0 6.5 1 7.5 2.5 7.5 3.5 6.5"],
  h: [3.5, "0 0 0 8|0 4 1 3 2.5 3 3.5 4 3.5 8"],
  i: [1, "0.5 3 0.5 8|0.5 1 0.5 1.4"],
  j: [2, "1.5 3 1.5 9 0.8 10 0 10|1.5 1 1.5 1.4"],
  k: [3.5, "0 0 0 8|3.2 3 0 6|1.2 4.8 3.5 8"],
  l: [1.5, "0.5 0 0.5 7.2 1.3 8"],
  m: [5, "0 8 0 3|0 4 0.8 3 1.7 3 2.5 4 2.5 8|2.5 4 3.3 3 4.2 3 5 4 5 8"],
  n: [3.5, "0 8 0 3|0 4 1 3 2.5 3 3.5 4 3.5 8"],
  o: [3.5, "1 3 2.5 3 3.5 4 3.5 7 2.5 8 1 8 0 7 0 4 1 3"],
  p: [3.5, "0 3 0 10|0 4 1 3 2.5 3 3.5 4 3.5 7 2.5 8 1 8 0 7"],
  q: [3.5, "3.5 3 3.5 10|3.5 4 2.5 3 1 3 0 4 0 7 1 8 2.5 8 3.5 7"],
  r: [2.8, "0 3 0 8|0 5 1.2 3.3 2 3 2.8 3"],
  s: [3.5, "3.5 3.8 2.5 3 1 3 0 3.8 0 4.8 1 5.4 2.5 5.6 3.5 6.2 3.5 7.2 2.5 8 1 8 0 7.2"],
  t: [2.8, "1 0.8 1 7.2 1.8 8 2.8 8|0 3 2.6 3"],
  u: [3.5, "0 3 0 7 1 8 2.5 8 3.5 7|3.5 3 3.5 8"],
  v: [3.5, "0 3 1.75 8 3.5 3"],
  w: [5, "0 3 1.2 8 2.5 4.5 3.8 8 5 3"],
  x: [3.5, "0 3 3.5 8|3.5 3 0 8"],
  y: [3.5, "0 3 1.75 8|3.5 3 1.2 10 0.3 10"],
  z: [3.5, "0 3 3.5 3 0 8 3.5 8"],
  "0": [4, "1 0 3 0 4 1 4 7 3 8 1 8 0 7 0 1 1 0"],
  "1": [4, "1 1.5 2.5 0 2.5 8|1 8 4 8"],
  "2": [4, "0 1 1 0 3 0 4 1 4 3 0 8 4 8"],
  "3": [4, "0 1 1 0 3 0 4 1 4 3 3 4 1.5 4|3 4 4 5 4 7 3 8 1 8 0 7"],
  "4": [4, "3 8 3 0 0 5.5 4 5.5"],
  "5": [4, "4 0 0.3 0 0 4 3 3.6 4 4.6 4 7 3 8 1 8 0 7"],
  "6": [4, "3.8 0.8 3 0 1 0 0 1 0 7 1 8 3 8 4 7 4 5 3 4 1 4 0 5"],
  "7": [4, "0 0 4 0 1.2 8"],
  "8": [4, "1 0 3 0 4 1 4 3 3 4 1 4 0 3 0 1 1 0|1 4 0 5 0 7 1 8 3 8 4 7 4 5 3 4"],
  "9": [4, "0.2 7.2 1 8 3 8 4 7 4 1 3 0 1 0 0 1 0 3 1 4 3 4 4 3"],
  ".": [1, "0.5 7.6 0.5 8"],
  ",": [1.5, "1 7.4 0.4 9.4"],
  ":": [1, "0.5 3.2 0.5 3.6|0.5 7.6 0.5 8"],
  ";": [1.5, "1 3.2 1 3.6|1 7.4 0.4 9.4"],
  "-": [3, "0 4.5 3 4.5"],
  "−": [4, "0 4.5 4 4.5"],
  "+": [4, "0 4.5 4 4.5|2 2.5 2 6.5"],
  "=": [4, "0 3.5 4 3.5|0 5.5 4 5.5"],
  "(": [2, "2 -0.5 0.7 1.5 0.7 6.5 2 8.5"],
  ")": [2, "0 -0.5 1.3 1.5 1.3 6.5 0 8.5"],
  "[": [2, "2 -0.5 0.5 -0.5 0.5 8.5 2 8.5"],
  "]": [2, "0 -0.5 1.5 -0.5 1.5 8.5 0 8.5"],
  "/": [3, "0 8.5 3 -0.5"],
  "%": [4, "0 8 4 0|0.5 0.3 1.3 0.3 1.3 1.7 0.5 1.7 0.5 0.3|2.7 6.3 3.5 6.3 3.5 7.7 2.7 7.7 2.7 6.3"],
  "_": [4, "0 9 4 9"],
  "'": [1, "0.5 0 0.5 2"],
  "*": [3, "1.5 2 1.5 6|0 3 3 5|0 5 3 3"],
  "<": [3.5, "3.5 2 0 4.5 3.5 7"],
  ">": [3.5, "0 2 3.5 4.5 0 7"],
  "~": [4, "0 5 1 4 3 5 4 4"],
  "±": [4, "0 4 4 4|2 2 2 6|0 8 4 8"],
  "λ": [4, "0 8 2 3|0.5 0 1.2 0 4 8"],
  "×": [3.5, "0 3 3.5 7|3.5 3 0 7"],
  "#": [4, "1 1 1 8|3 1 3 8|0 3 4 3|0 6 4 6"],
  "&": [4, "4 8 1 2 1 1 2 0 3 1 3 2 0 5 0 7 1 8 2.5 8 4 5.5"],
};
const SPACE = 2.5;
const GAP = 1.3;
/** Units per em: the cap height (8 units) is 0.7 em. */
const UNITS_PER_EM = 8 / 0.7;

/** Width of a text in pixels at font size `size`. */
export function textWidth(text: string, size: number): number {
  let w = 0;
  for (const ch of text) w += advance(ch);
  if (text.length) w -= GAP;
  return (w * size) / UNITS_PER_EM;
}

function advance(ch: string): number {
  if (ch === " ") return SPACE + GAP;
  const g = GLYPHS[ch] ?? GLYPHS["?"] ?? [3, ""];
  return g[0] + GAP;
}

/**
 * Path data of a text with its baseline at y; anchor says whether x is the
 * start, middle or end of the text.
 */
export function textPathData(text: string, x: number, y: number, size: number, anchor: "start" | "middle" | "end" = "start"): string {
  const s = size / UNITS_PER_EM;
  let pen = anchor === "start" ? x : anchor === "middle" ? x - textWidth(text, size) / 2 : x - textWidth(text, size);
  const top = y - 8 * s;
  const parts: string[] = [];
  for (const ch of text) {
    const g = GLYPHS[ch];
    if (g) {
      for (const line of g[1].split("|")) {
        const n = line.trim().split(/\s+/).map(Number);
        for (let i = 0; i + 1 < n.length; i += 2) parts.push(`${i === 0 ? "M" : "L"}${r(pen + n[i] * s)} ${r(top + n[i + 1] * s)}`);
      }
    } else if (ch !== " ") {
      // Unknown character: a small box, so that nothing disappears silently.
      const w = 3 * s;
      parts.push(`M${r(pen)} ${r(top + 2 * s)}h${r(w)}v${r(6 * s)}h${r(-w)}z`);
    }
    pen += advance(ch) * s;
  }
  return parts.join("");
}

/** An SVG <path> drawing the text (stroke width about a tenth of the size). */
export function svgText(text: string, x: number, y: number, size: number, opts: { anchor?: "start" | "middle" | "end"; color?: string; rotate?: number; weight?: number } = {}): string {
  const d = textPathData(text, x, y, size, opts.anchor ?? "start");
  if (!d) return "";
  const sw = r(size * 0.085 * (opts.weight ?? 1));
  const tr = opts.rotate ? ` transform="rotate(${opts.rotate} ${r(x)} ${r(y)})"` : "";
  return `<path d="${d}" fill="none" stroke="${opts.color ?? "#000"}" stroke-width="${sw}" stroke-linecap="round" stroke-linejoin="round"${tr}><title>${escapeXml(text)}</title></path>`;
}

export function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function r(v: number): string {
  return (Math.round(v * 100) / 100).toString();
}
