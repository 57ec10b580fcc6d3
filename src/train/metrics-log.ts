/**
 * The run's metrics file, DIR/metrics.jsonl: one JSON line per progress tick
 * and per evaluation, appended as the run goes, and last the run's summary
 * (the `--json` report, exactly). A reader tells them apart by `kind`
 * ("progress", "evaluation"; the summary has none) and must accept a partial
 * last line (a run still writing).
 */
import { appendFileSync, closeSync, fsyncSync, openSync } from "node:fs";

/** One line of metrics.jsonl before the summary. */
export interface MetricsLine {
  kind: "progress" | "evaluation";
  /** Seconds since the run started. */
  seconds: number;
  /** Training rows seen (rows x passes). */
  rows: number;
  /** The pass (1-based). */
  epoch: number;
  /** Mean training log loss since the last line (null before the first step). */
  trainLoss: number | null;
  /** Validation AUC and log loss (evaluation lines). */
  valAuc?: number;
  valLogloss?: number;
  /** Live features over all features (a feature is live when its row is not all zero). */
  featureRate: number;
  liveFeatures: number;
  features: number;
  rowsPerSec: number;
  /** Resident set size of the process, bytes. */
  rssBytes: number;
}

export const METRICS_FILE = "metrics.jsonl";

/** Appends lines to DIR/metrics.jsonl (created empty when the run starts; a resumed run appends). */
export class MetricsLog {
  private fd: number;

  constructor(readonly path: string, append: boolean) {
    this.fd = openSync(path, append ? "a" : "w");
  }

  write(line: MetricsLine | Record<string, unknown>): void {
    appendFileSync(this.fd, JSON.stringify(line) + "\n");
  }

  close(): void {
    if (this.fd < 0) return;
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = -1;
  }
}

/**
 * The lines of a metrics file's text: the metric lines and the summary when
 * the run has finished. A partial last line (a run still writing) is left
 * out; any other line that is not JSON is an error naming its line number.
 */
export function parseMetrics(text: string, what: string): { lines: MetricsLine[]; summary?: Record<string, unknown> } {
  // The last piece is "" after a final newline, else a line still being written.
  const complete = text.split("\n").slice(0, -1);
  const lines: MetricsLine[] = [];
  let summary: Record<string, unknown> | undefined;
  complete.forEach((row, i) => {
    if (row.trim() === "") return;
    let v: unknown;
    try { v = JSON.parse(row); } catch (e) { throw new Error(`${what}:${i + 1}: not a JSON line (${(e as Error).message})`); }
    if (v === null || typeof v !== "object" || Array.isArray(v)) throw new Error(`${what}:${i + 1}: not a JSON object`);
    const o = new Map(Object.entries(v));
    const kind = o.get("kind");
    if (kind === "progress" || kind === "evaluation") lines.push(metricLine(o, kind, `${what}:${i + 1}`));
    else summary = Object.fromEntries(o);
  });
  return { lines, summary };
}

function metricLine(o: Map<string, unknown>, kind: MetricsLine["kind"], at: string): MetricsLine {
  const num = (k: string): number => {
    const v = o.get(k);
    if (typeof v !== "number" || !Number.isFinite(v)) throw new Error(`${at}: field ${k} = ${JSON.stringify(v)} is not a number`);
    return v;
  };
  const opt = (k: string): number | undefined => (o.get(k) === undefined || o.get(k) === null ? undefined : num(k));
  return {
    kind, seconds: num("seconds"), rows: num("rows"), epoch: num("epoch"), trainLoss: opt("trainLoss") ?? null,
    ...(kind === "evaluation" ? { valAuc: num("valAuc"), valLogloss: num("valLogloss") } : {}),
    featureRate: num("featureRate"), liveFeatures: num("liveFeatures"), features: num("features"),
    rowsPerSec: num("rowsPerSec"), rssBytes: num("rssBytes"),
  };
}
