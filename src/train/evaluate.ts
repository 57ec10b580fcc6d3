/** AUC and log loss of a model on the rows of a file (a range of it). */
import type { DataFile } from "../data/types.js";
import { AucAccumulator, LoglossAccumulator } from "../metrics/index.js";
import type { CtrModel } from "./model.js";

/** AUC and log loss of the model on rows of a file (no rows are created in the tables). */
export async function evaluateModel(m: CtrModel, file: DataFile, range?: { start?: number; end?: number }): Promise<{ auc: number; logloss: number; rows: number }> {
  const auc = new AucAccumulator(), ll = new LoglossAccumulator();
  let p = new Float64Array(0);
  let rows = 0;
  for await (const b of file.batches(range)) {
    if (p.length < b.rows) p = new Float64Array(b.rows);
    m.predict(b, p);
    for (let i = 0; i < b.rows; i++) {
      auc.add(p[i], b.labels[i]);
      ll.add(p[i], b.labels[i]);
    }
    rows += b.rows;
  }
  return { auc: auc.value(), logloss: ll.value(), rows };
}
