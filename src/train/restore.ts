import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DenseParam } from "../optim/dense.js";
import { loadTable } from "../optim/sharded.js";
import { buildModel, CtrModel, denseShape, type TrainSettings } from "./model.js";
import { Admission } from "./admission.js";
import type { Calibration } from "./calibration.js";

/** What `sparsectr train --out DIR` records beside the states, in DIR/model.json. */
export interface RunRecord {
  settings: TrainSettings;
  fields: string[];
  format: string;
  /** How inputs are read (format, fields, schema or featindex). */
  input?: { format: string; fields: string[]; schema?: unknown; featindex?: string };
  params: string[];
  report?: Record<string, unknown>;
  /** The Platt scaling the model applies (absent: none). */
  calibration?: Calibration;
}

/**
 * Rebuilds a trained model from a training output folder: the settings in
 * model.json, every table's and dense parameter's saved state (tableK.state,
 * denseK.state) and the admission counts (admission.state, with minCount > 1). The result equals the model at the end of training bit for bit.
 */
export function restoreModel(dir: string): { model: CtrModel; record: RunRecord } {
  let record: RunRecord;
  try {
    record = JSON.parse(readFileSync(join(dir, "model.json"), "utf8")) as RunRecord;
  } catch (e) {
    throw new Error(`${dir}: not a training output folder (model.json: ${(e as Error).message})`);
  }
  const fresh = buildModel(record.fields.length, record.settings);
  const tables = fresh.tables.map((_, k) => readFileSync(join(dir, `table${k}.state`)));
  const dense = fresh.params.map((_, i) => readFileSync(join(dir, `dense${i}.state`)));
  const admission = fresh.admission ? readFileSync(join(dir, "admission.state")) : undefined;
  fresh.tables.forEach((t) => t.dispose());
  fresh.dense.forEach((d) => d.dispose());
  const model = assembleModel(record.settings, record.fields.length, record.params, tables, dense, dir, admission);
  if (record.calibration) model.calibration = { scale: record.calibration.scale, bias: record.calibration.bias };
  return { model, record };
}

/**
 * A model from its settings and the saved states of its tables and dense
 * parameters, checked against the architecture the settings build (names,
 * shapes, counts): the model as it was saved, bit for bit.
 */
export function assembleModel(
  settings: TrainSettings, fields: number, params: readonly string[],
  tableStates: readonly Uint8Array[], denseStates: readonly Uint8Array[], what: string, admissionState?: Uint8Array,
): CtrModel {
  const fresh = buildModel(fields, settings);
  if (fresh.params.length !== params.length || fresh.params.some((p, i) => p.name !== params[i])) {
    throw new Error(`${what}: the saved parameters are not those of the model ${settings.model}`);
  }
  if (tableStates.length !== fresh.tables.length || denseStates.length !== fresh.params.length) {
    throw new Error(`${what}: ${tableStates.length} table and ${denseStates.length} dense states saved, the model has ${fresh.tables.length} and ${fresh.params.length}`);
  }
  const tables = tableStates.map((b, k) => {
    const t = loadTable(b);
    if (t.rowLength !== fresh.tables[k].rowLength || t.optimizer !== fresh.tables[k].optimizer) throw new Error(`${what}: table ${k} is ${t.optimizer} with rows of ${t.rowLength}, the model wants ${fresh.tables[k].optimizer} with ${fresh.tables[k].rowLength}`);
    return t;
  });
  const dense = fresh.params.map((p, i) => {
    const d = DenseParam.load(denseStates[i]);
    const shape = denseShape(p.name, p.rows, p.rowLength, fresh.settings.dense);
    if (d.rows !== shape.rows || d.rowLength !== shape.rowLength) throw new Error(`${what}: dense state ${i} is ${d.rows} x ${d.rowLength}, parameter ${p.name} is ${shape.rows} x ${shape.rowLength}`);
    p.value.set(d.view());
    return d;
  });
  fresh.tables.forEach((t) => t.dispose());
  fresh.dense.forEach((d) => d.dispose());
  const admission = admissionState === undefined ? undefined : Admission.load(admissionState, `${what}: admission counts`);
  if ((admission === undefined) !== (fresh.admission === undefined) || (admission && admission.minCount !== fresh.settings.minCount)) {
    throw new Error(`${what}: the admission counts ${admission ? `are for min count ${admission.minCount}` : "are missing"}, the settings have min count ${fresh.settings.minCount}`);
  }
  return new CtrModel(fresh.model, tables, dense, fresh.params, fresh.settings, admission);
}
