/** AUC and log loss of a model on the rows of a file (a range of it). */
import type { DataFile } from "../data/types.js";
import { AucAccumulator, LoglossAccumulator } from "../metrics/index.js";
import type { CtrModel } from "./model.js";

/** AUC and log loss of the model on rows of a file (no rows are created in the tables). */
export async function evaluateModel(m: CtrModel, file: DataFile, range?: { start?: number; end?: number }): Promise<{ auc: number; logloss: number; rows: number }> {
  const metrics = new EvalMetrics();
  let p = new Float64Array(0);
  for await (const b of file.batches(range)) {
    if (p.length < b.rows) p = new Float64Array(b.rows);
    metrics.add(m.predict(b, p), b.labels, b.rows);
  }
  return metrics.value();
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
