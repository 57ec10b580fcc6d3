/** AUC and log loss of a model on the rows of a file (a range of it), from its scores or from its logits. */
import type { DataFile } from "../data/types.js";
import { AucAccumulator, LoglossAccumulator } from "../metrics/index.js";
import { calibrated, type Calibration } from "./calibration.js";
import type { CtrModel } from "./model.js";

/** A model's logits on rows of a file with their labels, in row order (what a calibration is fit on), and the threads that scored them. */
export interface Logits { z: Float64Array; y: Float32Array; threads: number }

/** An evaluation's figures, and the logits it scored when they were asked for. */
export interface Evaluation { auc: number; logloss: number; rows: number; logits?: Logits }

/** AUC and log loss of the model on rows of a file (no rows are created in the tables). */
export async function evaluateModel(m: CtrModel, file: DataFile, range?: { start?: number; end?: number }): Promise<Evaluation> {
  const metrics = new EvalMetrics();
  let p = new Float64Array(0);
  for await (const b of file.batches(range)) {
    if (p.length < b.rows) p = new Float64Array(b.rows);
    metrics.add(m.predict(b, p), b.labels, b.rows);
  }
  return metrics.value();
}

/**
 * evaluateModel's figures from the model's logits (z, in row order) and the
 * calibration it scores with (CtrModel.predict's: the same scores bit for
 * bit), with the logits kept.
 */
export function evaluateLogits(c: Calibration, logits: Logits): Evaluation & { logits: Logits } {
  const metrics = new EvalMetrics(), p = new Float64Array(Math.min(logits.z.length, 65536));
  for (let o = 0; o < logits.z.length; o += p.length) {
    const n = Math.min(p.length, logits.z.length - o);
    calibrated(c, logits.z.subarray(o, o + n), n, p);
    metrics.add(p, logits.y.subarray(o, o + n), n);
  }
  return { ...metrics.value(), logits };
}

/** AUC and log loss of scores against labels added in row order (evaluateModel's, and the data-parallel workers' shares). */
export class EvalMetrics {
  private readonly auc = new AucAccumulator();
  private readonly ll = new LoglossAccumulator();
  private rows = 0;

  /** The first n scores and their labels. */
  add(scores: ArrayLike<number>, labels: ArrayLike<number>, n: number): void {
    for (let i = 0; i < n; i++) {
      this.auc.add(scores[i], labels[i]);
      this.ll.add(scores[i], labels[i]);
    }
    this.rows += n;
  }

  value(): { auc: number; logloss: number; rows: number } {
    return { auc: this.auc.value(), logloss: this.ll.value(), rows: this.rows };
  }
}
