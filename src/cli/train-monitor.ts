/**
 * What `sparsectr train` shows and records of a run as it goes: the progress
 * line on a terminal (percent of the current pass, rows/s, time left, loss,
 * live features; one line redrawn in place, nothing with --json or when
 * stderr is not a terminal), the evaluation lines, and with --out the
 * metrics file DIR/metrics.jsonl (src/train/metrics-log.ts).
 */
import { join } from "node:path";
import type { Progress } from "../train/trainer.js";
import type { EvalPoint } from "../train/validation.js";
import { METRICS_FILE, MetricsLog, type MetricsLine } from "../train/metrics-log.js";

/** Seconds between progress lines on a terminal, and between progress lines of the metrics file. */
const TTY_EVERY = 0.5, FILE_EVERY = 5;

export interface MonitorOptions {
  /** Redraw a progress line on stderr (a terminal, without --json). */
  tty: boolean;
  /** Print evaluation lines on stderr (without --json). */
  verbose: boolean;
  /** The run folder, for metrics.jsonl. */
  out?: string;
  /** A resumed run appends to the metrics file. */
  append: boolean;
  /** Training rows of one pass and the most passes (for the percent and the time left). */
  passRows: number;
  epochs: number;
  featureRate: () => number;
}

export class RunMonitor {
  private readonly log?: MetricsLog;
  private lastTty = -Infinity;
  private lastFile = -Infinity;
  private last?: Progress;
  private first?: Progress;
  private drawn = false;

  constructor(private readonly o: MonitorOptions) {
    if (o.out) this.log = new MetricsLog(join(o.out, METRICS_FILE), o.append);
  }

  /** The trainer's progress callback. */
  progress = (p: Progress): void => {
    this.last = p;
    this.first ??= p;
    if (this.o.tty && p.seconds - this.lastTty >= TTY_EVERY) {
      this.lastTty = p.seconds;
      process.stderr.write(`\r${progressLine(p, this.rate(p), this.o.passRows, this.o.epochs, process.stderr.columns ?? 120)}`);
      this.drawn = true;
    }
    if (this.log && p.seconds - this.lastFile >= FILE_EVERY) {
      this.lastFile = p.seconds;
      this.log.write(this.line("progress", p));
    }
  };

  /** An evaluation (early stopping's callback). */
  evaluation(e: EvalPoint, best: boolean): void {
    if (this.o.verbose) {
      this.clear();
      process.stderr.write(`pass ${e.epoch}, ${e.rows} rows: validation AUC ${e.auc.toFixed(4)}, log loss ${e.logloss.toFixed(4)}, live features ${e.liveFeatures}/${e.features}${best ? " (best)" : ""}\n`);
    }
    const p = this.last;
    this.log?.write({
      ...this.line("evaluation", p ?? { rows: e.rows, steps: e.steps, epoch: e.epoch, loss: NaN, seconds: 0, liveFeatures: e.liveFeatures, features: e.features }),
      rows: e.rows, epoch: e.epoch, valAuc: e.auc, valLogloss: e.logloss, liveFeatures: e.liveFeatures, features: e.features,
    });
  }

  /** Ends the progress line (before other output). */
  clear(): void {
    if (this.drawn) process.stderr.write("\r\x1b[K");
    this.drawn = false;
  }

  /** The last line of the metrics file: the run's summary (the --json report). */
  finish(report: Record<string, unknown>): void {
    this.clear();
    this.log?.write(report);
    this.log?.close();
  }

  /** Closes the metrics file without a summary (an interrupted run). */
  close(): void {
    this.clear();
    this.log?.close();
  }

  private line(kind: MetricsLine["kind"], p: Progress): MetricsLine {
    return {
      kind, seconds: +p.seconds.toFixed(3), rows: p.rows, epoch: p.epoch + 1, trainLoss: Number.isFinite(p.loss) ? p.loss : null,
      featureRate: this.o.featureRate(), liveFeatures: p.liveFeatures, features: p.features,
      rowsPerSec: Math.round(this.rate(p)), rssBytes: process.memoryUsage.rss(),
    };
  }

  /** Rows per second since the first progress of this process (a resumed run's rows include those before). */
  private rate(p: Progress): number {
    const f = this.first;
    if (!f || p.seconds <= f.seconds) return p.seconds > 0 && f === p ? p.rows / p.seconds : 0;
    return (p.rows - f.rows) / (p.seconds - f.seconds);
  }
}

/**
 * The progress line: pass e/E with the percent of it done, rows/s, time left
 * (of this pass, and of the most passes left when there are several: early
 * stopping usually ends sooner), loss, live features; cut to `width`.
 */
export function progressLine(p: Progress, rate: number, passRows: number, epochs: number, width: number): string {
  const inPass = passRows > 0 ? p.rows - p.epoch * passRows : 0;
  const pct = passRows > 0 ? Math.min(100, Math.max(0, (100 * inPass) / passRows)) : 0;
  const leftPass = rate > 0 ? (passRows - inPass) / rate : NaN;
  const leftAll = rate > 0 ? (epochs * passRows - p.rows) / rate : NaN;
  const eta = epochs > 1 ? `${duration(leftPass)} left in the pass, at most ${duration(leftAll)}` : `${duration(leftPass)} left`;
  const text = `pass ${p.epoch + 1}/${epochs} ${pct.toFixed(1).padStart(5)}%  ${Math.round(rate)} rows/s  ${eta}  loss ${Number.isFinite(p.loss) ? p.loss.toFixed(4) : "-"}  live features ${p.liveFeatures}/${p.features}`;
  return text.length >= width ? text.slice(0, Math.max(0, width - 1)) : text + " ".repeat(Math.max(0, Math.min(width - 1, text.length + 3) - text.length));
}

/** "1h02m", "3m05s", "12s", "-" for an unknown time. */
export function duration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return "-";
  const t = Math.round(s);
  if (t >= 3600) return `${Math.floor(t / 3600)}h${String(Math.floor((t % 3600) / 60)).padStart(2, "0")}m`;
  if (t >= 60) return `${Math.floor(t / 60)}m${String(t % 60).padStart(2, "0")}s`;
  return `${t}s`;
}
