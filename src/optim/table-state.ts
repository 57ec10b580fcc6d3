/**
 * A sparse table's saved state (ids, records with weights and optimizer
 * state, step, initialiser, hyperparameters) as bytes and back: the envelope,
 * its header checked, and the check of every record loaded. A damaged or
 * inconsistent state is refused, never half loaded (SparseTable.save and
 * SparseTable.load in ./table.ts use these).
 */
import { HEADER_BYTES, H_FLAGS, H_COUNT, H_TAU, MAX_ROW } from "../kernels/layout.js";
import { decodeEnvelope, encodeEnvelopeInto, intField } from "../io/envelope.js";
import { namedErrors } from "../util/named-errors.js";
import type { Heap } from "../kernels/heap.js";
import { nonFiniteIn } from "./dense.js";
import { resolveHyperparams, isOptimizerName, type OptimizerName, type ResolvedHyperparams } from "./hyper.js";
import type { RowInit } from "./table-options.js";

export const TABLE_STATE = "sparse table state";

/** The header fields of a saved table. */
export interface TableStateHeader {
  optimizer: OptimizerName;
  hyper: ResolvedHyperparams;
  rowLength: number;
  seed: number;
  init: RowInit;
  step: number;
  size: number;
  zeroRows: number;
  recordBytes: number;
}

/**
 * The bytes of a table's state: header, then the ids and the records in row
 * order, which `ids` and `records` write in place (h.size x 8 and h.size x
 * h.recordBytes bytes); over `into` where it fits, sealed or not
 * (encodeEnvelopeInto).
 */
export function encodeTableState(h: TableStateHeader, ids: (dest: Uint8Array) => void, records: (dest: Uint8Array) => void, into?: Uint8Array, seal = true): Uint8Array {
  return encodeEnvelopeInto({ kind: "table", version: 1, ...h }, [h.size * 8, h.size * h.recordBytes], (k, dest) => (k === 0 ? ids : records)(dest), into, seal);
}

/** A saved state's header, checked, with its ids and records. */
export function decodeTableState(bytes: Uint8Array): { header: TableStateHeader; ids: BigUint64Array; records: Uint8Array } {
  const what = TABLE_STATE;
  const named = <T>(f: () => T): T => namedErrors(what, f);
  const { header: h, body } = decodeEnvelope(bytes, what);
  if (h.kind !== "table" || h.version !== 1) throw new RangeError(`${what}: kind/version ${String(h.kind)}/${String(h.version)} is not table/1`);
  if (!isOptimizerName(h.optimizer)) throw new RangeError(`${what}: unknown optimizer ${JSON.stringify(h.optimizer)}`);
  const optimizer = h.optimizer;
  const hyper = named(() => resolveHyperparams(optimizer, h.hyper as Record<string, never>));
  const rowLength = intField(h, "rowLength", what, MAX_ROW);
  const seed = intField(h, "seed", what, 0xffffffff);
  const step = intField(h, "step", what, 2 ** 32 - 2);
  const size = intField(h, "size", what, 2 ** 31);
  const zeroRows = intField(h, "zeroRows", what, size);
  const recordBytes = intField(h, "recordBytes", what);
  if (body.length !== size * 8 + size * recordBytes) throw new RangeError(`${what}: body has ${body.length} bytes, the header implies ${size * (8 + recordBytes)}`);
  return {
    header: { optimizer, hyper, rowLength, seed, init: h.init as RowInit, step, size, zeroRows, recordBytes },
    ids: new BigUint64Array(body.slice(0, size * 8).buffer), records: body.subarray(size * 8),
  };
}

/**
 * The check of one loaded record (at rec in heap, row r): its header must
 * agree with its weights and the step (the kernels index the
 * bias-correction table by a row's last step and update count, and the zero
 * flag drives the live-row counts), and its weights, last learning rate and
 * moments must be numbers (a NaN would spread through every later step).
 */
export function recordCheck(heap: Heap, h: TableStateHeader, ids: BigUint64Array): (rec: number, r: number) => void {
  const what = TABLE_STATE, d = h.rowLength, step = h.step;
  return (rec, r) => {
    const u = heap.u32, x = (rec + HEADER_BYTES) >>> 2;
    const flags = u[(rec + H_FLAGS) >>> 2], tau = u[(rec + H_TAU) >>> 2], count = u[(rec + H_COUNT) >>> 2];
    let zero = 1;
    for (let j = 0; j < d; j++) if (heap.f32[x + j] !== 0) { zero = 0; break; }
    if (flags !== zero || tau > step || count > step) {
      throw new RangeError(`${what}: row ${r} (id ${ids[r]}) has zero flag ${flags}, last step ${tau} and ${count} updates, which do not fit its ${zero ? "zero" : "non-zero"} weights and step ${step}`);
    }
    const bad = nonFiniteIn(heap.f32, (rec + 4) >>> 2, 1) ?? nonFiniteIn(heap.f32, x, (h.recordBytes - HEADER_BYTES) >>> 2);
    if (bad !== undefined) throw new RangeError(`${what}: row ${r} (id ${ids[r]}) holds a non-finite value (${bad}) in its weights or optimizer state`);
  };
}
