/**
 * A trained model rebuilt from saved states (a checkpoint's parts): the
 * settings build the architecture, the states fill it, and every name, shape
 * and count is checked against it.
 */
import { DenseParam } from "../optim/dense.js";
import { loadTable } from "../optim/sharded.js";
import { buildModel, CtrModel, denseShape, type TrainSettings } from "./model.js";
import { Admission } from "./admission.js";

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
