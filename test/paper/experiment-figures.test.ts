// The figures: SVG laid out as the paper's (Fig. 1 has one panel per dataset,
// MLP, OPNN, DCN from left to right), rendered to PNG by @resvg/resvg-wasm.
// The PNG is decoded here (zlib + PNG filters) to check its size and that it
// is not blank: ink in every panel, both series' colours present, text drawn.
import { test } from "node:test";
import assert from "node:assert/strict";
import { inflateSync } from "node:zlib";
import { buildFigures } from "../../src/experiments/figures.js";
import { svgToPng } from "../../src/experiments/png.js";
import { stat, type CurvePoint, type Results } from "../../src/experiments/results.js";
import { textPathData, textWidth } from "../../src/experiments/font.js";

function curve(rates: number[], aucs: number[]): CurvePoint[] {
  return rates.map((r, i) => ({ strength: 10 ** (-4 + i), featureRate: stat([r, r * 1.1, r * 0.9]), auc: stat([aucs[i], aucs[i] + 0.002, aucs[i] - 0.002]) }));
}

const results = {
  experiment: "paper", sections: ["fig1", "fig2", "fig3"], claims: [],
  fig1: {
    panels: ["DCN", "MLP", "OPNN"].map((label, k) => ({
      dataset: label, label,
      groupAdam: curve([0.5, 0.1, 0.02, 0.004], [0.80 - k * 0.02, 0.801 - k * 0.02, 0.799 - k * 0.02, 0.795 - k * 0.02]),
      adamPruned: curve([0.5, 0.1, 0.02, 0.004], [0.80 - k * 0.02, 0.80 - k * 0.02, 0.796 - k * 0.02, 0.785 - k * 0.02]),
    })),
  },
  fig2: { dataset: "criteo", label: "DCN", raw: curve([0.3, 0.05, 0.01], [0.8, 0.799, 0.79]), scaled: curve([0.2, 0.04, 0.008], [0.799, 0.797, 0.787]), comparisons: [] },
  fig3: { dataset: "criteo", label: "DCN", l1: curve([0.9, 0.6, 0.3], [0.8, 0.8, 0.8]), l21: curve([0.3, 0.05, 0.01], [0.8, 0.8, 0.79]), pFeatureRate: [0.01, 0.01, 0.01] },
} as unknown as Results;

/** Width, height and RGBA rows of an 8-bit RGBA or RGB PNG, decoded here. */
function decodePng(png: Uint8Array): { width: number; height: number; px: (x: number, y: number) => [number, number, number] } {
  const b = Buffer.from(png);
  assert.deepEqual([...b.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10], "PNG signature");
  let o = 8, width = 0, height = 0, depth = 0, ctype = 0;
  const idat: Buffer[] = [];
  while (o < b.length) {
    const len = b.readUInt32BE(o), type = b.toString("latin1", o + 4, o + 8), data = b.subarray(o + 8, o + 8 + len);
    if (type === "IHDR") { width = data.readUInt32BE(0); height = data.readUInt32BE(4); depth = data[8]; ctype = data[9]; }
    if (type === "IDAT") idat.push(data);
    o += 12 + len;
  }
  assert.equal(depth, 8);
  const bpp = ctype === 6 ? 4 : ctype === 2 ? 3 : 0;
  assert.ok(bpp > 0, `colour type ${ctype}`);
  const raw = inflateSync(Buffer.concat(idat)), stride = width * bpp;
  const out = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)], line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? out[y * stride + i - bpp] : 0, up = y > 0 ? out[(y - 1) * stride + i] : 0, c = y > 0 && i >= bpp ? out[(y - 1) * stride + i - bpp] : 0;
      let v = line[i];
      if (f === 1) v += a;
      else if (f === 2) v += up;
      else if (f === 3) v += (a + up) >> 1;
      else if (f === 4) { const p = a + up - c, pa = Math.abs(p - a), pb = Math.abs(p - up), pc = Math.abs(p - c); v += pa <= pb && pa <= pc ? a : pb <= pc ? up : c; }
      out[y * stride + i] = v & 255;
    }
  }
  return { width, height, px: (x, y) => [out[y * stride + x * bpp], out[y * stride + x * bpp + 1], out[y * stride + x * bpp + 2]] };
}

test("figures: three SVGs, panels in the paper's order, rendered to non-blank PNGs of twice the SVG size", async () => {
  const figs = buildFigures(results);
  assert.deepEqual(figs.map((f) => f.name), ["fig1", "fig2", "fig3"]);
  const f1 = figs[0];
  assert.match(f1.svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  // Panel titles left to right: MLP, OPNN, DCN (the paper's Fig. 1), whatever the input order.
  const titles = [...f1.svg.matchAll(/<title>(MLP|OPNN|DCN)<\/title>/g)].map((m) => m[1]);
  assert.deepEqual(titles, ["MLP", "OPNN", "DCN"]);
  // Error bars: one vertical bar with caps per point with a standard deviation (2 series x 4 points x 3 panels).
  assert.equal((f1.svg.match(/<path d="M[\d.]+ [\d.]+V[\d.]+M/g) ?? []).length, 24);
  for (const f of figs) {
    const { png, width, height } = await svgToPng(f.svg);
    assert.equal(width, 2 * f.width);
    assert.equal(height, 2 * f.height);
    const img = decodePng(png);
    assert.equal(img.width, width);
    assert.equal(img.height, height);
    // Ink in each panel third (fig1) or in the plot area, and both series' colours.
    const panels = f.name === "fig1" ? 3 : 1;
    for (let p = 0; p < panels; p++) {
      let ink = 0;
      for (let y = 0; y < height; y += 2) for (let x = Math.floor((p * width) / panels); x < ((p + 1) * width) / panels; x += 2) { const [r, g, b] = img.px(x, y); if (r + g + b < 600) ink++; }
      assert.ok(ink > 500, `${f.name} panel ${p}: ${ink} inked pixels`);
    }
    const colours = new Set<string>();
    for (let y = 0; y < height; y += 1) for (let x = 0; x < width; x += 1) { const [r, g, b] = img.px(x, y); colours.add(`${r >> 4},${g >> 4},${b >> 4}`); }
    const blue = [...colours].some((c) => c === "1,4,9"), orange = [...colours].some((c) => c === "13,5,1");
    if (f.name === "fig1") assert.ok(blue && orange, "both series' colours");
    // Corners are white background.
    assert.deepEqual(img.px(0, 0), [255, 255, 255]);
  }
});

test("stroke font: every character of the figures' texts has a glyph; widths add up", () => {
  const texts = ["Fig. 1. AUC across feature rates (MLP, OPNN and DCN); Error bars: one standard deviation.", "s~_t (scaled)", "Adam + pruning", "regulariser strength", "0123456789 ×−"];
  for (const t of texts) assert.doesNotMatch(textPathData(t, 0, 10, 12), /h[\d.]+v/, `a character of "${t}" has no glyph`);
  assert.ok(Math.abs(textWidth("AB", 10) - (textWidth("A", 10) + textWidth("B", 10) + 1.3 * 10 / (8 / 0.7))) < 1e-9);
});
