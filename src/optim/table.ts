/**
 * The row-sparse table of an embedding: its step pipeline (lookup,
 * deduplication, gradient sums, the fused row update; the next batch looked
 * up on another thread), gathers and queries. The rows live in a RowStore
 * (./row-store.ts), the step's working memory in a StepScratch
 * (./table-scratch.ts); pruning and eviction are ./table-rows.ts, the saved
 * state ./table-state.ts. Over 400 lines: the step's halves (prepare and
 * apply, gather and step a batch, the lookahead) are one sequence of checks
 * and kernel calls over the same scratch, read together.
 */
import { Arena } from "../kernels/arena.js";
import type { Backend } from "../kernels/kernels.js";
import { HEADER_BYTES, H_FLAGS, H_TAU } from "../kernels/layout.js";
import { settleRecords } from "../kernels/ts/rows.js";
import { StepCall } from "./call.js";
import { checkFinite, checkLr, checkShape, copyInto, ruleUsesHessian, type StepOptions } from "./checks.js";
import { namedErrors } from "../util/named-errors.js";
import { writeIds, type FeatureIds, idToParts } from "./ids.js";
import type { OptimizerName, ResolvedHyperparams } from "./hyper.js";
import { lookaheadThread, type LookaheadThread } from "./lookahead.js";
import { RowStore, type RowOwner } from "./row-store.js";
import { StepScratch } from "./table-scratch.js";
import { evictTo, pruneToTopRows } from "./table-rows.js";
import { decodeTableState, encodeTableState, recordCheck, TABLE_STATE } from "./table-state.js";
import { idAt, idCount, parseInit, type RowInit, type TableOptions } from "./table-options.js";

export type { RowInit, TableOptions } from "./table-options.js";

/** A step whose rows are looked up and whose gradients are summed (see prepareStep). @internal */
export interface PreparedStep {
  readonly distinct: number;
  readonly lr: number;
  readonly hessian: boolean;
  readonly stamp: number;
}


/**
 * A row-sparse table (an embedding): rows addressed by 64-bit feature ids,
 * created on first sight, updated lazily (only the rows of a step's ids).
 * Each row's weights and optimizer state form one fused record
 * [header | x | z | moments] in a WebAssembly memory; the id index is an
 * open-addressing hash table (u64 keys, u32 rows) in the same memory.
 */
export class SparseTable implements RowOwner {
  readonly rowLength: number;
  readonly hyper: ResolvedHyperparams;
  readonly seed: number;
  readonly init: RowInit;
  readonly arena: Arena;
  private readonly call: StepCall;
  private readonly store: RowStore;
  private t = 0;
  /** The step's working memory in the arena (see ./table-scratch.ts). */
  private readonly sc: StepScratch;
  /** Counts prepared steps, so that applyStep can refuse a stale one; also bumped when the scratch moves. */
  private stamp = 0;
  /** Rows of the batch prepared by gatherBatch, -1 when none is ready. */
  private batchRows = -1;
  private batchDistinct = 0;
  private disposed = false;
  /** A lookup of the next batch in flight on the lookahead thread. */
  private ahead: { ids: FeatureIds; n: number; seq: number; thread: LookaheadThread } | undefined;

  /** Use `Optimizer.table` (or `SparseTable.load`) rather than this constructor. */
  constructor(readonly optimizer: OptimizerName, hyper: ResolvedHyperparams, options: TableOptions, backend: Backend = "wasm") {
    if (options === null || typeof options !== "object") throw new TypeError(`${optimizer}: table options must be an object`);
    const d = options.rowLength;
    checkShape(optimizer, 1, d);
    const seed = options.seed ?? 0;
    if (!Number.isSafeInteger(seed) || seed < 0 || seed > 0xffffffff) throw new RangeError(`${optimizer}: seed = ${seed} must be an integer in [0, 2^32)`);
    const init = options.init ?? { normal: { std: 1e-4 } };
    const [kind, a, b] = parseInit(optimizer, init);
    this.rowLength = d;
    this.hyper = hyper;
    this.seed = seed;
    this.init = init;
    // A shared memory, so that the lookahead thread can read the index (which
    // only the WebAssembly kernels do).
    this.arena = new Arena(backend, { shared: backend === "wasm" });
    this.call = new StepCall(this.arena, optimizer, hyper, d, true);
    this.store = new RowStore(this.arena, d, this.call.recordBytes(true), [kind, a, b], seed);
    this.sc = new StepScratch(this.arena, d, ruleUsesHessian(optimizer));
  }

  /** Rows present (features seen so far). */
  get size(): number { return this.rows.size; }
  /** Rows whose weights are all exactly 0.0; O(1). */
  get zeroRows(): number { return this.rows.zeroRows; }
  /** Rows with at least one non-zero weight; O(1). */
  get liveRows(): number { return this.size - this.zeroRows; }
  /** Number of completed steps (the global step t). */
  get stepCount(): number { return this.t; }
  /** Bytes of WebAssembly memory the table holds (rows, index, scratch). */
  get memoryBytes(): number { return this.arena.heap.byteLength; }
  /** Bytes of one row's record (weights and optimizer state). */
  get recordBytes(): number { return this.store.recBytes; }


  /**
   * The weights of each id (ids.length x rowLength floats, into `out` when
   * given), creating rows for ids seen for the first time; with
   * `{ create: false }` ids without a row read as zeros and nothing is created.
   */
  gather(ids: FeatureIds, out?: Float32Array, opts: { create?: boolean } = {}): Float32Array {
    this.live();
    const n = idCount(this.optimizer, ids), d = this.rowLength;
    const res = out ?? new Float32Array(n * d);
    if (res.length !== n * d) throw new RangeError(`${this.optimizer}: gather output has ${res.length} floats, expected ${n * d}`);
    if (opts.create === false) {
      // Evaluation: unseen features read as zeros and add no rows.
      this.quiesce();
      this.batchRows = -1;
      this.ensureScratch(n);
      writeIds(this.optimizer, ids, this.arena.heap, this.sc.ids);
      this.arena.kernels.gatherExisting(this.store.meta, this.sc.ids, n, this.sc.grad, this.sc.recs, this.sc.inverse, this.sc.urecs, this.sc.tab);
    } else {
      this.resolveIds(ids);
      this.arena.kernels.gather(this.sc.recs, n, d, this.sc.grad);
    }
    res.set(this.arena.heap.f32.subarray(this.sc.grad >>> 2, (this.sc.grad >>> 2) + n * d));
    return res;
  }

  /**
   * One lazy step: grads holds one row of rowLength floats per id (ids.length x
   * rowLength). Duplicate ids have their gradients summed first; rows of other
   * ids are not touched. AdaHessian needs `opts.hessian` of the same shape.
   * On any error the table is left untouched (except that rows of new ids may
   * have been created, exactly as `gather` would).
   */
  step(ids: FeatureIds, grads: ArrayLike<number>, opts: StepOptions = {}): void {
    this.applyStep(this.prepareStep(ids, grads, opts));
  }

  /**
   * First half of `step`: checks, then looks up and deduplicates the ids and
   * sums their gradients. Nothing of the table changes but the creation of new
   * rows. Split out so that benchmarks can time the halves.
   * @internal
   */
  prepareStep(ids: FeatureIds, grads: ArrayLike<number>, opts: StepOptions = {}): PreparedStep {
    this.live();
    this.quiesce();
    const lr = checkLr(this.optimizer, opts.lr, this.hyper.lr);
    const count = idCount(this.optimizer, ids);
    const d = this.rowLength, heap = this.arena.heap, k = this.arena.kernels;
    this.ensureScratch(count);
    copyInto(this.optimizer, "gradient", grads, count * d, heap, this.sc.grad);
    const label = (i: number): string => `position ${i} (id ${String(idAt(ids, i))})`;
    // Finiteness is checked on the sums, inside the lookup before any row is
    // created (see stepBatch); the errors keep their order: each one below
    // is reported only once the inputs checked before it are known finite.
    let h = 0;
    const inputsFinite = (): void => {
      checkFinite(this.optimizer, "gradient", k.findNonFinite(this.sc.grad, count * d), d, label);
      if (h) checkFinite(this.optimizer, "hessian", k.findNonFinite(this.sc.hess, count * d), d, label);
    };
    try {
      if (this.sc.hess) {
        if (opts.hessian === undefined) throw new TypeError(`${this.optimizer}: step needs opts.hessian, the Hessian diagonal estimate`);
        copyInto(this.optimizer, "hessian", opts.hessian, count * d, heap, this.sc.hess);
        h = this.sc.hess;
      } else if (opts.hessian !== undefined) {
        throw new TypeError(`${this.optimizer}: opts.hessian is only used by adahessian and group-adahessian`);
      }
      this.ensureRows(this.size + count);
      this.batchRows = -1;
      writeIds(this.optimizer, ids, heap, this.sc.ids);
    } catch (e) {
      inputsFinite();
      throw e;
    }
    this.stamp++;
    const uh = h ? this.sc.uhess : 0;
    let distinct = k.dedupResolve(this.store.meta, this.sc.ids, count, this.sc.recs, this.sc.inverse, this.sc.urecs, this.sc.tab, this.sc.grad, h, d, this.sc.ugrad, uh);
    if (distinct < 0) {
      inputsFinite();
      // Finite inputs whose sum overflowed: no error, as ever.
      distinct = k.dedupResolve(this.store.meta, this.sc.ids, count, this.sc.recs, this.sc.inverse, this.sc.urecs, this.sc.tab, 0, 0, d, 0, 0);
      k.accumulateInverse(this.sc.inverse, count, this.sc.grad, h, d, this.sc.ugrad, uh, distinct);
    }
    return { distinct, lr, hessian: h !== 0, stamp: this.stamp };
  }

  /**
   * The forward half of a training step: the weights of a batch's ids
   * (ids.length x rowLength floats, creating rows for new ids), with the lookup
   * kept so that the `stepBatch` that follows needs none. Equivalent to
   * `gather(ids)` then `step(ids, grads)`, bit for bit, in about half the
   * lookups. Any other call on the table in between cancels the batch.
   */
  gatherBatch(ids: FeatureIds, out?: Float32Array): Float32Array {
    this.live();
    const n = idCount(this.optimizer, ids), d = this.rowLength, k = this.arena.kernels;
    const res = out ?? new Float32Array(n * d);
    if (res.length !== n * d) throw new RangeError(`${this.optimizer}: gatherBatch output has ${res.length} floats, expected ${n * d}`);
    const a = this.ahead;
    if (a !== undefined && a.ids === ids && a.n === n) {
      // Looked up ahead: only the rows of new ids are left to create, in the
      // order dedupResolve would create them. Their room was made when the
      // lookup was posted (no row was created since: a call that creates
      // rows drops the lookup first).
      this.ahead = undefined;
      const u = a.thread.wait(a.seq);
      this.stamp++;
      const la = this.sc.la;
      k.createMissing(this.store.meta, la.hashes, la.keys, la.recs, u, la.init);
      [this.sc.ids, la.ids] = [la.ids, this.sc.ids];
      [this.sc.recs, la.hashes] = [la.hashes, this.sc.recs];
      [this.sc.inverse, la.inverse] = [la.inverse, this.sc.inverse];
      [this.sc.urecs, la.recs] = [la.recs, this.sc.urecs];
      [this.sc.tab, la.tab] = [la.tab, this.sc.tab];
      this.batchDistinct = u;
    } else {
      this.quiesce();
      this.ensureScratch(n);
      this.ensureRows(this.size + n);
      writeIds(this.optimizer, ids, this.arena.heap, this.sc.ids);
      this.stamp++;
      this.batchDistinct = k.dedupResolve(this.store.meta, this.sc.ids, n, this.sc.recs, this.sc.inverse, this.sc.urecs, this.sc.tab, 0, 0, d, 0, 0);
    }
    this.batchRows = n;
    k.gatherInverse(this.sc.urecs, this.sc.inverse, n, d, this.sc.grad, this.batchDistinct);
    res.set(this.arena.heap.f32.subarray(this.sc.grad >>> 2, (this.sc.grad >>> 2) + n * d));
    return res;
  }

  /**
   * Starts looking up `ids` (the next batch's) on the lookahead thread, so
   * that the `gatherBatch` of the same array skips most of its lookup; the
   * current batch stays ready for its `stepBatch`. The thread only reads the
   * index, and any call that changes it first waits for the lookup and drops
   * it, so the table ends the same bit for bit with or without. Returns false
   * (and does nothing) when the thread is not running yet or the batch is
   * larger than any before.
   * @internal
   */
  lookahead(ids: FeatureIds): boolean {
    this.live();
    const thread = this.arena.backend === "wasm" ? lookaheadThread() : undefined;
    const n = idCount(this.optimizer, ids);
    if (thread === undefined || n === 0 || n > this.sc.capacity) return false;
    this.quiesce();
    // The chunks of the rows the batch may create, made now: the thread maps
    // their fresh pages (see dedupLookup).
    this.ensureRows(this.size + n);
    const la = this.sc.la;
    writeIds(this.optimizer, ids, this.arena.heap, la.ids);
    const seq = thread.post({
      memory: this.arena.heap.memory, meta: this.store.meta, ids: la.ids, n, hashes: la.hashes, inverse: la.inverse, recs: la.recs, keys: la.keys, tab: la.tab, init: la.init,
    });
    this.ahead = { ids, n, seq, thread };
    return true;
  }

  /**
   * The backward half: one step on the ids of the last `gatherBatch`, with
   * one gradient row per id (duplicates summed first, in order). On an error
   * nothing is changed and the batch stays ready.
   */
  stepBatch(grads: ArrayLike<number>, opts: StepOptions = {}): void {
    this.live();
    const n = this.batchRows;
    if (n < 0) throw new Error(`${this.optimizer}: stepBatch needs a gatherBatch just before it (another call on the table came in between)`);
    const lr = checkLr(this.optimizer, opts.lr, this.hyper.lr);
    const d = this.rowLength, heap = this.arena.heap, k = this.arena.kernels, u = this.batchDistinct;
    const label = (i: number): string => `position ${i}`;
    // The finiteness of the inputs is checked on their sums (a non-finite
    // input makes its row's sum non-finite; a sum can also overflow from
    // finite inputs, which is no error), a pass over the distinct rows instead
    // of over every position. The checks keep their order: each error below
    // is reported only once the gradient is known to be finite.
    const gradientFinite = (): void => checkFinite(this.optimizer, "gradient", k.findNonFinite(this.sc.grad, n * d), d, label);
    copyInto(this.optimizer, "gradient", grads, n * d, heap, this.sc.grad);
    let h = 0;
    try {
      if (this.sc.hess) {
        if (opts.hessian === undefined) throw new TypeError(`${this.optimizer}: step needs opts.hessian, the Hessian diagonal estimate`);
        copyInto(this.optimizer, "hessian", opts.hessian, n * d, heap, this.sc.hess);
        h = this.sc.hess;
      } else if (opts.hessian !== undefined) {
        throw new TypeError(`${this.optimizer}: opts.hessian is only used by adahessian and group-adahessian`);
      }
    } catch (e) {
      gradientFinite();
      throw e;
    }
    k.accumulateInverse(this.sc.inverse, n, this.sc.grad, h, d, this.sc.ugrad, h ? this.sc.uhess : 0, u);
    if (k.findNonFinite(this.sc.ugrad, u * d) >= 0) gradientFinite();
    if (h && k.findNonFinite(this.sc.uhess, u * d) >= 0) {
      gradientFinite();
      checkFinite(this.optimizer, "hessian", k.findNonFinite(this.sc.hess, n * d), d, label);
    }
    this.batchRows = -1;
    this.applyStep({ distinct: u, lr, hessian: h !== 0, stamp: this.stamp });
  }

  /**
   * Second half of `step`: the fused row update of the prepared rows.
   * @internal
   */
  applyStep(p: PreparedStep): void {
    if (p.stamp !== this.stamp) throw new Error(`${this.optimizer}: applyStep of a stale prepared step`);
    this.call.prepare(this.t + 1, p.lr);
    this.t++;
    const delta = this.arena.kernels.updateSparse(this.call.ptr, this.sc.urecs, p.distinct, this.sc.ugrad, p.hessian ? this.sc.uhess : 0);
    this.store.addZeros(-delta);
  }

  /**
   * Magnitude pruning of whole rows (the paper's baseline, section 4.2): keeps
   * the `keep` rows of largest l2 norm (ties: the earlier row) and sets every
   * other row's weights to exactly 0.0. Optimizer state is left as it is, so a
   * later step may bring a pruned row back (prune again after fine-tuning).
   * Returns the number of rows zeroed by this call.
   */
  pruneToTopRows(keep: number): number {
    return pruneToTopRows(this, keep);
  }

  /**
   * Removes rows until at most `keep` remain, to stay within a memory budget:
   * rows whose weights group lasso made exactly zero go first (their optimizer
   * state is dropped with them: a feature that comes back starts afresh),
   * then the rows updated the fewest times, then the least recently updated,
   * then the oldest; the order is deterministic. The remaining rows keep their
   * weights and state and their relative order. The memory stays allocated
   * (WebAssembly memory does not shrink) and is reused by new rows. Returns
   * the number of rows removed and how many of them were zero.
   */
  evictTo(keep: number): { evicted: number; zeroEvicted: number } {
    return evictTo(this, keep);
  }

  /** A copy of the weights of one id, or undefined when the id has no row. */
  get(id: number | bigint): Float32Array | undefined {
    const rec = this.lookup(id);
    if (!rec) return undefined;
    const o = (rec + HEADER_BYTES) >>> 2;
    return this.arena.heap.f32.slice(o, o + this.rowLength);
  }

  /** True when the id has a row. */
  has(id: number | bigint): boolean {
    return this.lookup(id) !== 0;
  }

  /** True when the id has a row whose weights are all exactly 0.0. */
  isZero(id: number | bigint): boolean {
    const rec = this.lookup(id);
    return rec !== 0 && (this.arena.heap.u32[(rec + H_FLAGS) >>> 2] & 1) === 1;
  }

  /** Every id with a row, in order of first sight. */
  ids(): BigUint64Array {
    return this.rows.ids();
  }

  /** Every id whose row has a non-zero weight, in order of first sight. */
  liveIds(): BigUint64Array {
    return this.rows.liveIds();
  }

  /** The complete state (rows, ids, optimizer state, step, initialiser) as bytes; over `into` (an earlier state's bytes, no longer needed) where they fit; unsealed without `seal` (sealEnvelope). */
  save(into?: Uint8Array, seal = true): Uint8Array {
    const rows = this.rows, n = rows.size;
    return encodeTableState(
      { optimizer: this.optimizer, hyper: this.hyper, rowLength: this.rowLength, seed: this.seed, init: this.init, step: this.t, size: n, zeroRows: rows.zeroRows, recordBytes: rows.recBytes },
      (dest) => rows.ids(dest), (dest) => rows.records(0, n, dest), into, seal,
    );
  }

  /** Restores a table saved by `save`; continuing it equals never having stopped. */
  static load(bytes: Uint8Array, backend: Backend = "wasm"): SparseTable {
    const { header: h, ids, records } = decodeTableState(bytes);
    const t = namedErrors(TABLE_STATE, () => new SparseTable(h.optimizer, h.hyper, { rowLength: h.rowLength, seed: h.seed, init: h.init }, backend));
    try {
      if (t.recordBytes !== h.recordBytes) throw new RangeError(`${TABLE_STATE}: record size ${h.recordBytes} does not match ${t.recordBytes} of ${h.optimizer}`);
      const zeros = t.refill(ids, records, recordCheck(t.arena.heap, h, ids), `${TABLE_STATE}: the ${h.size} saved ids are not distinct`);
      if (zeros !== h.zeroRows) throw new RangeError(`${TABLE_STATE}: ${zeros} rows are flagged zero, the header says ${h.zeroRows}`);
      t.t = h.step;
      return t;
    } catch (e) {
      t.dispose();
      throw e;
    }
  }

  /**
   * For row surgery (./table-rows.ts): the row store, once no lookup is in
   * flight and the prepared batch is cancelled (its rows may move). @internal
   */
  mutate(): RowStore {
    this.live();
    this.quiesce();
    this.batchRows = -1;
    return this.store;
  }

  /**
   * Creates the rows of distinct `keys` (in order, after the present ones)
   * and writes their records from `recs` (recordBytes each); `check` sees
   * each record in place. Sets and returns the zero-row count of the rows
   * written when the table held none before. @internal
   */
  refill(keys: BigUint64Array, recs: Uint8Array, check?: (rec: number, row: number) => void, notDistinct = `${this.optimizer}: the ids to refill are not distinct`): number {
    const heap = this.arena.heap, rb = this.store.recBytes, size0 = this.size;
    let zeros = 0;
    for (let r0 = 0; r0 < keys.length; r0 += 65536) {
      const n = this.resolveIds(keys.subarray(r0, Math.min(keys.length, r0 + 65536)));
      if (this.size !== size0 + r0 + n) throw new RangeError(notDistinct);
      for (let i = 0; i < n; i++) {
        const rec = heap.u32[(this.sc.recs >>> 2) + i], r = r0 + i;
        heap.u8.set(recs.subarray(r * rb, (r + 1) * rb), rec);
        check?.(rec, r);
        zeros += heap.u32[(rec + H_FLAGS) >>> 2] & 1;
      }
    }
    if (size0 === 0) this.store.setZeros(zeros);
    return zeros;
  }

  /**
   * Writes whole records (recordBytes each, in `recs`) for `keys`, creating
   * the rows of keys not present, e.g. the merge of several trainers'
   * changes (../cluster). A record's last step is capped at the table's step
   * count; group-form weights are recomputed from the record's z and moments
   * by Algorithm 1's closed form (plain-form weights are the state
   * themselves), and the zero flags and counts follow. @internal
   */
  putRecords(keys: BigUint64Array, recs: Uint8Array): void {
    const rb = this.store.recBytes;
    if (recs.length !== keys.length * rb) throw new RangeError(`${this.optimizer}: ${recs.length} record bytes for ${keys.length} ids of ${rb} bytes`);
    this.call.prepare(this.t + 1, this.hyper.lr);
    for (let r0 = 0; r0 < keys.length; r0 += 65536) {
      const n = this.resolveIds(keys.subarray(r0, Math.min(keys.length, r0 + 65536)));
      const heap = this.arena.heap, u32 = heap.u32;
      let zeros = 0;
      for (let i = 0; i < n; i++) {
        const rec = u32[(this.sc.recs >>> 2) + i], r = r0 + i;
        zeros -= u32[(rec + H_FLAGS) >>> 2] & 1;
        heap.u8.set(recs.subarray(r * rb, (r + 1) * rb), rec);
        const tau = rec + H_TAU;
        if (u32[tau >>> 2] > this.t) u32[tau >>> 2] = this.t;
      }
      this.store.addZeros(zeros + settleRecords(heap, this.call.ptr, this.sc.recs, n));
    }
  }

  /** Takes the global step count that worker threads reached on the table (./table-share.ts). @internal */
  adoptStepCount(t: number): void {
    this.live();
    this.quiesce();
    this.batchRows = -1;
    this.t = t;
  }

  /** Frees the table's memory (its whole arena). */
  dispose(): void {
    this.quiesce();
    this.disposed = true;
  }

  /** Waits for a lookahead in flight and drops it: the index may change now. */
  private quiesce(): void {
    const a = this.ahead;
    if (a === undefined) return;
    this.ahead = undefined;
    a.thread.wait(a.seq);
  }

  /** The row store of a live table. */
  private get rows(): RowStore {
    this.live();
    return this.store;
  }

  private live(): void {
    if (this.disposed) throw new Error(`${this.optimizer}: the table was disposed`);
  }

  private lookup(id: number | bigint): number {
    const [lo, hi] = idToParts(this.optimizer, id);
    return this.rows.lookup(lo, hi);
  }

  /** Copies ids to scratch and resolves them to record addresses at sRecs; returns their count. */
  private resolveIds(ids: FeatureIds): number {
    this.live();
    this.quiesce();
    this.batchRows = -1;
    const n = idCount(this.optimizer, ids);
    this.ensureScratch(n);
    this.ensureRows(this.size + n);
    writeIds(this.optimizer, ids, this.arena.heap, this.sc.ids);
    this.arena.kernels.resolve(this.store.meta, this.sc.ids, n, this.sc.recs);
    return n;
  }

  private ensureScratch(n: number): void {
    if (n <= this.sc.capacity) return;
    this.quiesce();
    this.batchRows = -1;
    this.sc.ensure(n);
    this.stamp++;
  }

  /** Makes room for `rows` rows: record chunks and index capacity. */
  private ensureRows(rows: number): void {
    this.store.ensureRows(rows, this.optimizer);
  }
}
