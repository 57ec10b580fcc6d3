/**
 * The embedding inputs of a batch, as a model reads them: the routing of its
 * feature keys (admission while training; a live row or the field's OOV row
 * at evaluation), the lookup of every table's rows, and the pooling of
 * multi-valued fields and feature values (Batch.bags); for training, the
 * backward of the pooling and the tables' steps.
 */
import type { Batch } from "../data/batch.js";
import { bagFields, poolBags, unpoolBags, type Pooling } from "../nn/bag.js";
import { Scratch } from "../nn/scratch.js";
import type { StepOptions } from "../optim/checks.js";
import type { EmbeddingTable } from "../optim/sharded.js";
import type { SharedTableView } from "../optim/table-share.js";
import { oovTable, type Admission } from "./admission.js";

/** A table the inputs read and step: one of the model's, or a worker thread's view of a shared one (training only). */
export type InputTable = EmbeddingTable | SharedTableView;
/** What routing needs of the admission counts: Admission, or SharedAdmission on a worker thread. */
export type AdmissionRouter = Pick<Admission, "route" | "fields" | "minCount">;

/** A batch's keys after routing, ready for the tables (the array a lookahead was posted with). */
export interface RoutedBatch {
  readonly batch: Batch;
  readonly keys: BigUint64Array;
}

/** Routing, lookup and pooling of the inputs of one model's tables. */
export class BatchInputs {
  private readonly bufs: Scratch[];
  private readonly entryBufs: Float32Array[];
  private readonly oovKeys: BigUint64Array;
  /** Routed key buffers, used in turn (a batch's, the next one's provisional routing, and their successors). */
  private routeBufs: Uint32Array[] = [new Uint32Array(0), new Uint32Array(0), new Uint32Array(0), new Uint32Array(0)];
  private turn = 0;
  private fieldBuf = new Int32Array(0);
  private trained: RoutedBatch | undefined;

  constructor(
    private readonly tables: readonly InputTable[],
    readonly fields: number,
    readonly pooling: Pooling,
    readonly admission: AdmissionRouter | undefined,
  ) {
    this.bufs = tables.map(() => new Scratch());
    this.entryBufs = tables.map(() => new Float32Array(0));
    const w = oovTable(fields);
    this.oovKeys = new BigUint64Array(w.buffer);
  }

  /**
   * The keys the tables see for a training batch: its own keys, or with
   * admission each key or its field's OOV key (`count`: this is the first
   * pass over these rows, so the keys are counted first).
   */
  route(b: Batch, count: boolean, tally = true): RoutedBatch {
    const a = this.admission;
    if (a === undefined) return { batch: b, keys: b.keys };
    const n = b.keys.length;
    this.turn = (this.turn + 1) % this.routeBufs.length;
    if (this.routeBufs[this.turn].length < 2 * n) this.routeBufs[this.turn] = new Uint32Array(2 * Math.max(n, 1024));
    const out = this.routeBufs[this.turn];
    a.route(b.keyWords, n, out, b.bags ? this.bagFieldsOf(b.bags.offsets) : undefined, count, tally);
    return { batch: b, keys: new BigUint64Array(out.buffer, 0, n) };
  }

  /**
   * The routing of a training batch, given the provisional one its lookahead
   * was posted with (made by `route(b, false)` before the batch's turn, so
   * that the counts change only when the batch trains and a checkpoint after
   * any step holds the counts of exactly the rows trained). Returns the
   * provisional routing when it is the same (the lookahead is used), else
   * the new one (the tables then look up afresh: the same model either way).
   */
  settle(b: Batch, provisional: RoutedBatch | undefined, count: boolean): RoutedBatch {
    if (this.admission === undefined) return provisional?.batch === b ? provisional : { batch: b, keys: b.keys };
    const r = this.route(b, count);
    if (provisional?.batch !== b) return r;
    const x = provisional.keys, y = r.keys;
    for (let i = 0; i < y.length; i++) if (x[i] !== y[i]) return r;
    return provisional;
  }

  /** The training forward's inputs: every table's rows of the routed keys (creating rows), pooled per slot. */
  gatherTrain(r: RoutedBatch): Float32Array[] {
    const b = r.batch, slots = b.rows * this.fields;
    this.trained = r;
    return this.tables.map((t, k) => {
      const d = t.rowLength;
      if (!b.bags) return t.gatherBatch(r.keys, this.bufs[k].take(slots * d));
      const rows = t.gatherBatch(r.keys, this.entries(k, r.keys.length * d));
      return poolBags(rows, d, b.bags.offsets, b.bags.values, this.pooling, this.bufs[k].take(slots * d));
    });
  }

  /** One step of every table with the model's input gradients (per slot), after gatherTrain. */
  stepTrain(grads: readonly Float32Array[], opts: (k: number) => StepOptions): void {
    const r = this.trained;
    if (r === undefined) throw new Error("stepTrain needs a gatherTrain first");
    this.trained = undefined;
    const bags = r.batch.bags;
    this.tables.forEach((t, k) => {
      const o = opts(k);
      if (!bags) return t.stepBatch(grads[k], o);
      if (o.hessian !== undefined) throw new Error("AdaHessian does not support multi-valued fields or feature values");
      const d = t.rowLength;
      t.stepBatch(unpoolBags(grads[k], d, bags.offsets, bags.values, this.pooling, this.entries(k, r.keys.length * d)), o);
    });
  }

  /**
   * Evaluation inputs (no row is created): a key reads its row when that is
   * live (not all zeros); otherwise, with admission, its field's OOV row
   * (zeros without one), as an exported model serves it. Then pooled.
   */
  read(b: Batch): Float32Array[] {
    const slots = b.rows * this.fields;
    return this.tables.map((t, k) => {
      const d = t.rowLength, n = b.keys.length;
      const rows = t.gather(b.keys, b.bags ? this.entries(k, n * d) : this.bufs[k].take(slots * d), { create: false });
      if (this.admission) {
        const oov = t.gather(this.oovKeys, undefined, { create: false });
        fallBack(rows, d, n, oov, this.fields, b.bags ? this.bagFieldsOf(b.bags.offsets) : undefined);
      }
      if (!b.bags) return rows;
      return poolBags(rows, d, b.bags.offsets, b.bags.values, this.pooling, this.bufs[k].take(slots * d));
    });
  }

  /** The field of every key of a batch with bags (a reused buffer). */
  private bagFieldsOf(offsets: Uint32Array): Int32Array {
    const n = offsets[offsets.length - 1];
    if (this.fieldBuf.length < n) this.fieldBuf = new Int32Array(Math.max(n, 1024));
    return bagFields(offsets, this.fields, this.fieldBuf);
  }

  /** Table k's buffer of `floats` entry floats (bags). */
  private entries(k: number, floats: number): Float32Array {
    if (this.entryBufs[k].length < floats) this.entryBufs[k] = new Float32Array(Math.max(floats, 2 * this.entryBufs[k].length));
    return this.entryBufs[k].subarray(0, floats);
  }
}

/** Rows that are all zeros (no live row) take the OOV row of their key's field (fieldOf[j], or j % fields). */
export function fallBack(rows: Float32Array, d: number, n: number, oov: Float32Array, fields: number, fieldOf?: Int32Array): void {
  for (let j = 0; j < n; j++) {
    const o = j * d;
    let zero = true;
    for (let i = 0; i < d; i++) if (rows[o + i] !== 0) { zero = false; break; }
    if (!zero) continue;
    const f = fieldOf ? fieldOf[j] : j % fields;
    rows.set(oov.subarray(f * d, f * d + d), o);
  }
}
