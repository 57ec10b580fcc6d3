/**
 * A training run's curves: DIR/metrics.jsonl drawn as one figure of three
 * panels against training rows (validation AUC; training and validation log
 * loss; feature rate), written as DIR/curves.svg and DIR/curves.png.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../io/atomic.js";
import { METRICS_FILE, parseMetrics, type MetricsLine } from "../train/metrics-log.js";
import { renderFigure, type PlotPanel, type PlotPoint, type PlotSeries } from "./plot.js";
import { svgToPng } from "./png.js";

export const CURVES_SVG = "curves.svg";
export const CURVES_PNG = "curves.png";

/** Progress lines are thinned to at most this many points (evaluation lines are all kept). */
export const MAX_PROGRESS_POINTS = 500;

/** The class of the markers of the validation AUC and validation log loss points (one per evaluation line). */
export const VAL_AUC_CLASS = "val-auc";
export const VAL_LOSS_CLASS = "val-logloss";

const TRAIN_COLOR = "#1f4e9c", VAL_COLOR = "#d1531d", RATE_COLOR = "#2a8c3a";

/**
 * The lines of a run in rows order, one per point in time. The file is in
 * write order; a resumed run starts again from its checkpoint, so a line whose
 * rows fall below those already seen supersedes every earlier line beyond it,
 * and a repeated rows value keeps its last line (one progress and one
 * evaluation line per rows value: an evaluation at the same rows as a
 * progress tick is not lost).
 */
export function runLines(lines: readonly MetricsLine[]): MetricsLine[] {
  const kept: MetricsLine[] = [];
  for (const l of lines) {
    let n = kept.length;
    while (n > 0 && kept[n - 1].rows > l.rows) n--;
    kept.length = n;
    // Lines at l.rows, if any, are the last ones.
    for (let i = n - 1; i >= 0 && kept[i].rows === l.rows; i--) if (kept[i].kind === l.kind) { kept.splice(i, 1); break; }
    kept.push(l);
  }
  return kept;
}

/**
 * At most `max` progress points: consecutive progress lines (never across an
 * evaluation line) are merged into one point at the last line's rows, with
 * the rows-weighted mean of their training losses and the last feature
 * counts. Evaluation lines are all kept as they are.
 */
export function thinLines(lines: readonly MetricsLine[], max = MAX_PROGRESS_POINTS): MetricsLine[] {
  const progress = lines.reduce((n, l) => n + (l.kind === "progress" ? 1 : 0), 0);
  if (progress <= max) return [...lines];
  let size = Math.ceil(progress / max), out = merge(lines, size);
  // Evaluation lines break runs of progress lines, each break may add a point.
  while (out.reduce((n, l) => n + (l.kind === "progress" ? 1 : 0), 0) > max && size < progress) {
    size = Math.min(progress, Math.ceil(size * 1.25));
    out = merge(lines, size);
  }
  return out;
}

function merge(lines: readonly MetricsLine[], size: number): MetricsLine[] {
  const out: MetricsLine[] = [];
  let bucket: { line: MetricsLine; weight: number }[] = [];
  const flush = (): void => {
    if (!bucket.length) return;
    const last = bucket[bucket.length - 1].line;
    const losses = bucket.filter((b) => b.line.trainLoss !== null);
    const w = losses.reduce((s, b) => s + b.weight, 0);
    const trainLoss = !losses.length ? null
      : w > 0 ? losses.reduce((s, b) => s + (b.line.trainLoss ?? 0) * b.weight, 0) / w
      : losses.reduce((s, b) => s + (b.line.trainLoss ?? 0), 0) / losses.length;
    out.push({ ...last, trainLoss });
    bucket = [];
  };
  let prevRows = 0;
  for (const l of lines) {
    const weight = Math.max(0, l.rows - prevRows);
    prevRows = l.rows;
    if (l.kind === "evaluation") {
      flush();
      out.push(l);
      continue;
    }
    bucket.push({ line: l, weight });
    if (bucket.length >= size) flush();
  }
  flush();
  return out;
}

/** Rows in the axis' unit: plain, thousands or millions. */
function rowsScale(maxRows: number): { div: number; label: string } {
  if (maxRows >= 2e6) return { div: 1e6, label: "training rows (millions)" };
  if (maxRows >= 2e4) return { div: 1e3, label: "training rows (thousands)" };
  return { div: 1, label: "training rows" };
}

/**
 * A dense series: a plain line, or markers when it has a single point (a line
 * of one point draws nothing).
 */
function dense(name: string, points: PlotPoint[], color: string): PlotSeries {
  return { name, points, color, marker: points.length > 1 ? "none" : "circle" };
}

/**
 * The figure of a run's metric lines (in file order, as parseMetrics returns
 * them): validation AUC, training and validation log loss, and feature rate
 * against training rows. Validation points have one marker each (classes
 * VAL_AUC_CLASS and VAL_LOSS_CLASS); progress series are plain lines thinned
 * to MAX_PROGRESS_POINTS. Without evaluation lines the AUC panel is left out
 * and the caption says so.
 */
export function renderCurves(lines: readonly MetricsLine[], title?: string): { svg: string; width: number; height: number; evaluations: number; progress: number } {
  if (!lines.length) throw new RangeError("no metric lines to draw");
  const run = runLines(lines);
  const shown = thinLines(run);
  const evals = shown.filter((l) => l.kind === "evaluation");
  const progress = run.length - evals.length;
  const { div, label } = rowsScale(run[run.length - 1].rows);
  const x = (l: MetricsLine): number => l.rows / div;
  // Every panel spans the run's rows, so that the panels line up.
  const xInclude = [x(run[0]), x(run[run.length - 1])];
  const panels: PlotPanel[] = [];
  if (evals.length) {
    panels.push({
      title: "Validation AUC", xLabel: label, yLabel: "AUC", xInclude,
      series: [{ name: "validation", points: evals.map((l) => ({ x: x(l), y: l.valAuc ?? NaN })), color: VAL_COLOR, marker: "circle", markerClass: VAL_AUC_CLASS }],
    });
  }
  const loss: PlotSeries[] = [];
  const train = shown.filter((l) => l.trainLoss !== null).map((l) => ({ x: x(l), y: l.trainLoss ?? NaN }));
  if (train.length) loss.push(dense("training", train, TRAIN_COLOR));
  if (evals.length) loss.push({ name: "validation", points: evals.map((l) => ({ x: x(l), y: l.valLogloss ?? NaN })), color: VAL_COLOR, marker: "circle", markerClass: VAL_LOSS_CLASS });
  if (loss.length) panels.push({ title: "Log loss", xLabel: label, yLabel: "log loss", xInclude, series: loss });
  const rates = shown.map((l) => ({ x: x(l), y: l.featureRate }));
  const positive = rates.every((p) => p.y > 0);
  const lo = Math.min(...rates.map((p) => p.y)), hi = Math.max(...rates.map((p) => p.y));
  panels.push({
    title: "Feature rate", xLabel: label, yLabel: "live / all features", yLog: positive && hi / lo >= 20, xInclude,
    series: [dense("feature rate", rates, RATE_COLOR)],
  });
  const last = run[run.length - 1];
  const counts = `${evals.length} evaluation${evals.length === 1 ? "" : "s"}, ${progress} progress line${progress === 1 ? "" : "s"}, ${last.rows.toLocaleString("en-US")} rows, pass ${last.epoch}.`;
  const notes = [title ? `${title}: ${counts}` : counts, evals.length ? "" : "No evaluation lines (a run without validation rows): no AUC panel."];
  const fig = renderFigure(panels, { caption: notes.filter((s) => s).join(" ") });
  return { ...fig, evaluations: evals.length, progress };
}

/**
 * Reads DIR/metrics.jsonl (a run still writing is fine: its partial last line
 * is left out), draws it and writes DIR/curves.svg and DIR/curves.png, each
 * atomically. A missing file or one without metric lines is an error naming
 * its path.
 */
export async function writeCurves(dir: string, title?: string): Promise<{ svg: string; png: string; evaluations: number; progress: number }> {
  const path = join(dir, METRICS_FILE);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new Error(`${path}: no such file (the folder is not a run's --out folder, or the run has not started)`);
    throw new Error(`${path}: cannot be read (${(e as Error).message})`);
  }
  const { lines } = parseMetrics(text, path);
  if (!lines.length) throw new Error(`${path}: no progress or evaluation lines yet`);
  const fig = renderCurves(lines, title);
  const svg = join(dir, CURVES_SVG), png = join(dir, CURVES_PNG);
  writeFileAtomic(svg, new TextEncoder().encode(fig.svg));
  writeFileAtomic(png, (await svgToPng(fig.svg)).png);
  return { svg, png, evaluations: fig.evaluations, progress: fig.progress };
}
