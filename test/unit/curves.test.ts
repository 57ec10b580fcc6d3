// A run's curves: one validation marker per evaluation line (counted by the
// markers' class, placed in the order of the AUC values), thinning that keeps
// every evaluation and the training loss's rows-weighted mean, a resumed
// run's lines in rows order with the last line of a repeated rows value, a run
// without validation, and curves.svg + curves.png written from metrics.jsonl,
// on the calling thread or on one of their own.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MAX_PROGRESS_POINTS, renderCurves, runLines, thinLines, VAL_AUC_CLASS, VAL_LOSS_CLASS, writeCurves } from "../../src/experiments/curves.js";
import { svgToPng } from "../../src/experiments/png.js";
import { writeCurvesThread } from "../../src/experiments/curves-thread.js";
import type { MetricsLine } from "../../src/train/metrics-log.js";

function line(kind: MetricsLine["kind"], rows: number, o: Partial<MetricsLine> = {}): MetricsLine {
  return {
    kind, seconds: rows / 1000, rows, epoch: 1, trainLoss: 0.5 + 0.1 / (1 + rows / 1000),
    ...(kind === "evaluation" ? { valAuc: 0.7, valLogloss: 0.47 } : {}),
    featureRate: 0.01 + 0.99 / (1 + rows / 5000), liveFeatures: 10, features: 1000, rowsPerSec: 1e5, rssBytes: 1e8, ...o,
  };
}

/** The elements carrying a class, in document order. */
function markers(svg: string, cls: string): string[] {
  return svg.match(new RegExp(`<[a-z]+ class="${cls}"[^>]*>`, "g")) ?? [];
}

const attr = (el: string, name: string): number => Number(new RegExp(` ${name}="([-\\d.]+)"`).exec(el)?.[1]);

/** A run: a progress tick every 100 rows, an evaluation every 1,000 rows (at the same rows as a tick). */
function run(rows: number, aucs: number[]): MetricsLine[] {
  const out: MetricsLine[] = [];
  const every = rows / aucs.length;
  for (let r = 100; r <= rows; r += 100) {
    out.push(line("progress", r));
    const k = Math.round(r / every) - 1;
    if (r % every === 0) out.push(line("evaluation", r, { valAuc: aucs[k], valLogloss: 0.5 - aucs[k] / 10 }));
  }
  return out;
}

test("curves: one validation marker per evaluation line in the AUC and log loss panels, in the AUC values' order", () => {
  const aucs = [0.70, 0.74, 0.76, 0.75, 0.72];
  const lines = run(5000, aucs);
  const { svg, evaluations, progress } = renderCurves(lines, "a test run");
  assert.equal(evaluations, 5);
  assert.equal(progress, 50);
  const auc = markers(svg, VAL_AUC_CLASS), loss = markers(svg, VAL_LOSS_CLASS);
  assert.equal(auc.length, 5);
  assert.equal(loss.length, 5);
  // Left to right in rows order; higher AUC is higher up (smaller y).
  const cx = auc.map((m) => attr(m, "cx")), cy = auc.map((m) => attr(m, "cy"));
  for (let i = 1; i < cx.length; i++) assert.ok(cx[i] > cx[i - 1], `marker ${i} right of marker ${i - 1}`);
  for (let i = 0; i < aucs.length; i++) for (let j = 0; j < aucs.length; j++) if (aucs[i] > aucs[j]) assert.ok(cy[i] < cy[j], `AUC ${aucs[i]} drawn above ${aucs[j]}`);
  for (const t of ["Validation AUC", "Log loss", "Feature rate", "training rows", "validation", "training", "feature rate"]) assert.ok(svg.includes(`<title>${t}</title>`), t);
  assert.match(svg, /<title>a test run: 5 evaluations, 50 progress lines, 5,000 rows, pass 1\.<\/title>/);
  // The dense series are plain lines: the only markers are the 10 validation points and the legends' two validation entries.
  assert.equal((svg.match(/<circle /g) ?? []).length, 10 + 2);
});

test("curves: thinning a huge run keeps every evaluation line, at most 500 progress points, and the training loss's rows-weighted mean", () => {
  const lines: MetricsLine[] = [];
  let seed = 7;
  const noise = (): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
  for (let r = 10; r <= 200_000; r += 10) {
    lines.push(line("progress", r, { trainLoss: 0.4 + 0.2 * noise() }));
    if (r % 30_000 === 0 || r === 200_000) lines.push(line("evaluation", r, { valAuc: 0.7 + r / 1e7, valLogloss: 0.45 }));
  }
  const evals = lines.filter((l) => l.kind === "evaluation");
  assert.equal(evals.length, 7);
  assert.equal(lines[lines.length - 1].kind, "evaluation");
  const thin = thinLines(lines);
  assert.deepEqual(thin.filter((l) => l.kind === "evaluation"), evals);
  const kept = thin.filter((l) => l.kind === "progress");
  assert.ok(kept.length <= MAX_PROGRESS_POINTS && kept.length >= MAX_PROGRESS_POINTS / 2, `${kept.length} progress points`);
  assert.equal(kept[kept.length - 1].rows, 200_000, "the last progress line's rows");
  for (let i = 1; i < thin.length; i++) assert.ok(thin[i].rows >= thin[i - 1].rows, "rows order");
  const mean = (ls: MetricsLine[]): number => {
    let s = 0, w = 0, prev = 0;
    for (const l of ls) { if (l.kind === "progress") { s += (l.trainLoss ?? 0) * (l.rows - prev); w += l.rows - prev; } prev = l.rows; }
    return s / w;
  };
  assert.ok(Math.abs(mean(thin) - mean(lines)) < 1e-9, `${mean(thin)} vs ${mean(lines)}`);
  const { svg, evaluations } = renderCurves(lines);
  assert.equal(evaluations, 7);
  assert.equal(markers(svg, VAL_AUC_CLASS).length, 7);
  assert.equal(markers(svg, VAL_LOSS_CLASS).length, 7);
  const vertices = Math.max(...[...svg.matchAll(/<polyline points="([^"]*)"/g)].map((m) => m[1].split(" ").length));
  assert.ok(vertices <= MAX_PROGRESS_POINTS + 7, `${vertices} vertices in the longest line`);
});

test("curves: a resumed run is drawn in rows order, the later line kept for a repeated rows value and the abandoned lines dropped", () => {
  const ev = (rows: number, auc: number): MetricsLine => line("evaluation", rows, { valAuc: auc, valLogloss: 0.45 });
  // First attempt to 500 rows, crash, resume from the checkpoint at 300 rows.
  const lines = [
    line("progress", 100), line("progress", 200), line("progress", 300), ev(300, 0.70), line("progress", 420), line("progress", 500), ev(500, 0.71),
    line("progress", 400, { trainLoss: 0.9 }), ev(500, 0.72), line("progress", 500, { trainLoss: 0.8 }), line("progress", 600), ev(600, 0.73),
  ];
  const r = runLines(lines);
  assert.deepEqual(r.map((l) => `${l.kind[0]}${l.rows}`), ["p100", "p200", "p300", "e300", "p400", "e500", "p500", "p600", "e600"]);
  assert.equal(r.find((l) => l.kind === "evaluation" && l.rows === 500)?.valAuc, 0.72);
  assert.equal(r.find((l) => l.kind === "progress" && l.rows === 500)?.trainLoss, 0.8);
  const { svg, evaluations, progress } = renderCurves(lines);
  assert.equal(evaluations, 3);
  assert.equal(progress, 6);
  assert.equal(markers(svg, VAL_AUC_CLASS).length, 3);
  // In file order the x positions would go back; drawn they only go right.
  const cx = markers(svg, VAL_AUC_CLASS).map((m) => attr(m, "cx"));
  assert.deepEqual(cx, [...cx].sort((a, b) => a - b));
});

test("curves: a run without validation has no AUC panel and says so; a single line draws a point in each panel", () => {
  const lines = [line("progress", 100), line("progress", 200), line("progress", 300, { trainLoss: null })];
  const { svg, evaluations } = renderCurves(lines);
  assert.equal(evaluations, 0);
  assert.ok(!svg.includes("<title>Validation AUC</title>"));
  assert.ok(svg.includes("<title>Log loss</title>") && svg.includes("<title>Feature rate</title>"));
  assert.match(svg, /No evaluation lines \(a run without validation rows\): no AUC panel\./);
  assert.equal(markers(svg, VAL_AUC_CLASS).length + markers(svg, VAL_LOSS_CLASS).length, 0);
  assert.match(svg, /width="680"/, "two panels");

  const one = renderCurves([line("evaluation", 512)]);
  assert.equal(one.evaluations, 1);
  assert.equal(markers(one.svg, VAL_AUC_CLASS).length, 1);
  assert.equal(markers(one.svg, VAL_LOSS_CLASS).length, 1);
  assert.doesNotMatch(one.svg, /NaN|Infinity/);
  assert.equal(one.width, 3 * 340);
  assert.throws(() => renderCurves([]), /no metric lines/);
});

test("curves: writeCurves writes curves.svg and a PNG of twice its size from metrics.jsonl with a partial last line; a missing or empty file is an error naming it", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sparsectr-curves-"));
  try {
    const lines = run(3000, [0.7, 0.72, 0.73]);
    writeFileSync(join(dir, "metrics.jsonl"), lines.map((l) => JSON.stringify(l) + "\n").join("") + '{"kind":"evaluation","seconds":3.1,"ro');
    const r = await writeCurves(dir);
    assert.deepEqual(r, { svg: join(dir, "curves.svg"), png: join(dir, "curves.png"), evaluations: 3, progress: 30 });
    const svg = readFileSync(r.svg, "utf8");
    assert.equal(svg, renderCurves(lines).svg);
    const png = readFileSync(r.png);
    assert.deepEqual([...png.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10], "PNG signature");
    assert.equal(png.toString("latin1", 12, 16), "IHDR");
    const w = Number(/^<svg [^>]*width="(\d+)"/.exec(svg)?.[1]), h = Number(/^<svg [^>]*height="(\d+)"/.exec(svg)?.[1]);
    assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [2 * w, 2 * h]);
    assert.deepEqual([w, h], [1020, 295]);
    assert.deepEqual(Buffer.from((await svgToPng(svg)).png), png);

    writeFileSync(join(dir, "metrics.jsonl"), "");
    await assert.rejects(writeCurves(dir), (e: Error) => e.message === `${join(dir, "metrics.jsonl")}: no progress or evaluation lines yet`);
    const none = join(dir, "nothing");
    await assert.rejects(writeCurves(none), (e: Error) => e.message.startsWith(`${join(none, "metrics.jsonl")}: no such file`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("curves: writeCurvesThread draws on a thread of its own what writeCurves draws (the same files), and rejects with its error", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sparsectr-curves-thread-"));
  try {
    writeFileSync(join(dir, "metrics.jsonl"), run(2000, [0.7, 0.71]).map((l) => JSON.stringify(l) + "\n").join(""));
    const here = await writeCurves(dir, "dcn, group-adam");
    const svg = readFileSync(here.svg), png = readFileSync(here.png);
    rmSync(here.svg);
    rmSync(here.png);
    assert.deepEqual(await writeCurvesThread(dir, "dcn, group-adam"), here);
    assert.deepEqual(readFileSync(here.svg), svg);
    assert.deepEqual(readFileSync(here.png), png);
    const none = join(dir, "nothing");
    await assert.rejects(writeCurvesThread(none), (e: Error) => e.message.startsWith(`${join(none, "metrics.jsonl")}: no such file`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
