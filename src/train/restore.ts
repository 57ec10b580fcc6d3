import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DenseParam } from "../optim/dense.js";
import { SparseTable } from "../optim/table.js";
import { buildModel, CtrModel, type TrainSettings } from "./trainer.js";

/** What `sparsectr train --out DIR` records beside the states, in DIR/model.json. */
export interface RunRecord {
  settings: TrainSettings;
  fields: string[];
  format: string;
  /** How inputs are read (format, fields, schema or featindex). */
  input?: { format: string; fields: string[]; schema?: unknown; featindex?: string };
  params: string[];
  report?: Record<string, unknown>;
}

/**
 * Rebuilds a trained model from a training output folder: the settings in
 * model.json, every table's and dense parameter's saved state (tableK.state,
 * denseK.state). The result equals the model at the end of training bit for bit.
 */
export function restoreModel(dir: string): { model: CtrModel; record: RunRecord } {
  let record: RunRecord;
  try {
    record = JSON.parse(readFileSync(join(dir, "model.json"), "utf8")) as RunRecord;
  } catch (e) {
    throw new Error(`${dir}: not a training output folder (model.json: ${(e as Error).message})`);
  }
  const fresh = buildModel(record.fields.length, record.settings);
  if (fresh.params.length !== record.params.length || fresh.params.some((p, i) => p.name !== record.params[i])) {
    throw new Error(`${dir}: model.json lists parameters that the model ${record.settings.model} does not have`);
  }
  const tables = fresh.tables.map((_, k) => SparseTable.load(readFileSync(join(dir, `table${k}.state`))));
  const dense = fresh.params.map((p, i) => {
    const d = DenseParam.load(readFileSync(join(dir, `dense${i}.state`)));
    if (d.rows !== p.rows || d.rowLength !== p.rowLength) throw new Error(`${dir}: dense${i}.state is ${d.rows} x ${d.rowLength}, parameter ${p.name} is ${p.rows} x ${p.rowLength}`);
    p.value.set(d.view());
    return d;
  });
  return { model: new CtrModel(fresh.model, tables, dense, fresh.params, fresh.settings), record };
}
