import { Arena } from "../kernels/arena.js";
import type { Backend } from "../kernels/kernels.js";
import {
  M_SLOTS, M_CAP, M_SIZE, M_CHUNKS, M_SHIFT, M_RECBYTES, M_D, M_INIT, M_INITA, M_INITB,
  M_SEED, M_ZEROS, HEADER_BYTES, H_FLAGS, H_COUNT, H_TAU, MAX_ROW,
} from "../kernels/layout.js";
import { decodeEnvelope, encodeEnvelope, intField } from "../io/envelope.js";
import { StepCall } from "./call.js";
import { nonFiniteIn } from "./dense.js";
import { namedErrors, checkFinite, checkLr, checkShape, copyInto, ruleUsesHessian, type StepOptions } from "./checks.js";
import { writeIds, type FeatureIds, idToParts } from "./ids.js";
import { resolveHyperparams, isOptimizerName, type OptimizerName, type ResolvedHyperparams } from "./hyper.js";
import { lookaheadThread, type LookaheadThread } from "./lookahead.js";

/** How new rows are initialised: a pure function of (seed, id), whatever the order ids arrive in. */
export type RowInit =
  | "zeros"
  | { uniform: readonly [number, number] }
  | { normal: { mean?: number; std: number } };

/** Options of a sparse table. */
export interface TableOptions {
  /** Row length d (embedding width). */
  rowLength: number;
  /** Seed of the row initialiser (unsigned 32-bit). Default 0. */
  seed?: number;
  /** Initial values of new rows. Default `{ normal: { std: 1e-4 } }`. */
  init?: RowInit;
}

/** A step whose rows are looked up and whose gradients are summed (see prepareStep). @internal */
export interface PreparedStep {
  readonly distinct: number;
  readonly lr: number;
  readonly hessian: boolean;
  readonly stamp: number;
}

const META_WORDS = 16;
const MAX_LOAD = 0.75;
const INDEX_SLOT = 12;
const CHUNK_TARGET_BYTES = 4 << 20;

/**
 * A row-sparse table (an embedding): rows addressed by 64-bit feature ids,
 * created on first sight, updated lazily (only the rows of a step's ids).
 * Each row's weights and optimizer state form one fused record
 * [header | x | z | moments] in a WebAssembly memory; the id index is an
 * open-addressing hash table (u64 keys, u32 rows) in the same memory.
 */
export class SparseTable {
  readonly rowLength: number;
  readonly hyper: ResolvedHyperparams;
  readonly seed: number;
  readonly init: RowInit;
  readonly arena: Arena;
  private readonly call: StepCall;
  private readonly meta: number;
  private readonly recBytes: number;
  private readonly shift: number;
  private chunkCount = 0;
  private chunkCap = 0;
  private t = 0;
  private scratchN = 0;
  private sIds = 0;
  private sRecs = 0;
  private sGrad = 0;
  private sHess = 0;
  private sURecs = 0;
  private sUGrad = 0;
  private sUHess = 0;
  private sTab = 0;
  /** Counts prepared steps, so that applyStep can refuse a stale one; also bumped when the scratch moves. */
  private stamp = 0;
  private sInv = 0;
  /** Rows of the batch prepared by gatherBatch, -1 when none is ready. */
  private batchRows = -1;
  private batchDistinct = 0;
  private disposed = false;
  /** The lookahead's scratch (shared memory only): same capacity as the batch lookup's, swapped with it when used. */
  private la = { ids: 0, hashes: 0, inverse: 0, recs: 0, keys: 0, tab: 0, init: 0 };
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
    this.recBytes = this.call.recordBytes(true);
    this.shift = Math.max(6, Math.min(20, Math.floor(Math.log2(CHUNK_TARGET_BYTES / this.recBytes))));
    const heap = this.arena.heap;
    this.meta = heap.alloc(META_WORDS * 4);
    const m = this.meta >>> 2, u = heap.u32;
    u[m + M_SHIFT] = this.shift;
    u[m + M_RECBYTES] = this.recBytes;
    u[m + M_D] = d;
    u[m + M_INIT] = kind;
    heap.f64[(this.meta + M_INITA * 4) >>> 3] = a;
    heap.f64[(this.meta + M_INITB * 4) >>> 3] = b;
    u[m + M_SEED] = seed;
    const cap = 1024;
    heap.u32[m + M_SLOTS] = heap.alloc(cap * INDEX_SLOT);
    heap.u32[m + M_CAP] = cap;
  }

  /** Rows present (features seen so far). */
  get size(): number { return this.word(M_SIZE); }
  /** Rows whose weights are all exactly 0.0; O(1). */
  get zeroRows(): number { return this.word(M_ZEROS); }
  /** Rows with at least one non-zero weight; O(1). */
  get liveRows(): number { return this.size - this.zeroRows; }
  /** Number of completed steps (the global step t). */
  get stepCount(): number { return this.t; }
  /** Bytes of WebAssembly memory the table holds (rows, index, scratch). */
  get memoryBytes(): number { return this.arena.heap.byteLength; }
  /** Bytes of one row's record (weights and optimizer state). */
  get recordBytes(): number { return this.recBytes; }

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
      writeIds(this.optimizer, ids, this.arena.heap, this.sIds);
      this.arena.kernels.gatherExisting(this.meta, this.sIds, n, this.sGrad);
    } else {
      this.resolveIds(ids);
      this.arena.kernels.gather(this.sRecs, n, d, this.sGrad);
    }
    res.set(this.arena.heap.f32.subarray(this.sGrad >>> 2, (this.sGrad >>> 2) + n * d));
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
    copyInto(this.optimizer, "gradient", grads, count * d, heap, this.sGrad);
    const label = (i: number): string => `position ${i} (id ${String(idAt(ids, i))})`;
    // Finiteness is checked on the sums, inside the lookup before any row is
    // created (see stepBatch); the errors keep their order: each one below
    // is reported only once the inputs checked before it are known finite.
    let h = 0;
    const inputsFinite = (): void => {
      checkFinite(this.optimizer, "gradient", k.findNonFinite(this.sGrad, count * d), d, label);
      if (h) checkFinite(this.optimizer, "hessian", k.findNonFinite(this.sHess, count * d), d, label);
    };
    try {
      if (this.sHess) {
        if (opts.hessian === undefined) throw new TypeError(`${this.optimizer}: step needs opts.hessian, the Hessian diagonal estimate`);
        copyInto(this.optimizer, "hessian", opts.hessian, count * d, heap, this.sHess);
        h = this.sHess;
      } else if (opts.hessian !== undefined) {
        throw new TypeError(`${this.optimizer}: opts.hessian is only used by adahessian and group-adahessian`);
      }
      this.ensureRows(this.size + count);
      this.batchRows = -1;
      writeIds(this.optimizer, ids, heap, this.sIds);
    } catch (e) {
      inputsFinite();
      throw e;
    }
    this.stamp++;
    const uh = h ? this.sUHess : 0;
    let distinct = k.dedupResolve(this.meta, this.sIds, count, this.sRecs, this.sInv, this.sURecs, this.sTab, this.sGrad, h, d, this.sUGrad, uh);
    if (distinct < 0) {
      inputsFinite();
      // Finite inputs whose sum overflowed: no error, as ever.
      distinct = k.dedupResolve(this.meta, this.sIds, count, this.sRecs, this.sInv, this.sURecs, this.sTab, 0, 0, d, 0, 0);
      k.accumulateInverse(this.sInv, count, this.sGrad, h, d, this.sUGrad, uh, distinct);
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
      const la = this.la;
      k.createMissing(this.meta, la.hashes, la.keys, la.recs, u, la.init);
      [this.sIds, la.ids] = [la.ids, this.sIds];
      [this.sRecs, la.hashes] = [la.hashes, this.sRecs];
      [this.sInv, la.inverse] = [la.inverse, this.sInv];
      [this.sURecs, la.recs] = [la.recs, this.sURecs];
      [this.sTab, la.tab] = [la.tab, this.sTab];
      this.batchDistinct = u;
    } else {
      this.quiesce();
      this.ensureScratch(n);
      this.ensureRows(this.size + n);
      writeIds(this.optimizer, ids, this.arena.heap, this.sIds);
      this.stamp++;
      this.batchDistinct = k.dedupResolve(this.meta, this.sIds, n, this.sRecs, this.sInv, this.sURecs, this.sTab, 0, 0, d, 0, 0);
    }
    this.batchRows = n;
    k.gatherInverse(this.sURecs, this.sInv, n, d, this.sGrad, this.batchDistinct);
    res.set(this.arena.heap.f32.subarray(this.sGrad >>> 2, (this.sGrad >>> 2) + n * d));
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
    if (thread === undefined || n === 0 || n > this.scratchN) return false;
    this.quiesce();
    // The chunks of the rows the batch may create, made now: the thread maps
    // their fresh pages (see dedupLookup).
    this.ensureRows(this.size + n);
    const la = this.la;
    writeIds(this.optimizer, ids, this.arena.heap, la.ids);
    const seq = thread.post({
      memory: this.arena.heap.memory, meta: this.meta, ids: la.ids, n, hashes: la.hashes, inverse: la.inverse, recs: la.recs, keys: la.keys, tab: la.tab, init: la.init,
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
    const gradientFinite = (): void => checkFinite(this.optimizer, "gradient", k.findNonFinite(this.sGrad, n * d), d, label);
    copyInto(this.optimizer, "gradient", grads, n * d, heap, this.sGrad);
    let h = 0;
    try {
      if (this.sHess) {
        if (opts.hessian === undefined) throw new TypeError(`${this.optimizer}: step needs opts.hessian, the Hessian diagonal estimate`);
        copyInto(this.optimizer, "hessian", opts.hessian, n * d, heap, this.sHess);
        h = this.sHess;
      } else if (opts.hessian !== undefined) {
        throw new TypeError(`${this.optimizer}: opts.hessian is only used by adahessian and group-adahessian`);
      }
    } catch (e) {
      gradientFinite();
      throw e;
    }
    k.accumulateInverse(this.sInv, n, this.sGrad, h, d, this.sUGrad, h ? this.sUHess : 0, u);
    if (k.findNonFinite(this.sUGrad, u * d) >= 0) gradientFinite();
    if (h && k.findNonFinite(this.sUHess, u * d) >= 0) {
      gradientFinite();
      checkFinite(this.optimizer, "hessian", k.findNonFinite(this.sHess, n * d), d, label);
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
    const delta = this.arena.kernels.updateSparse(this.call.ptr, this.sURecs, p.distinct, this.sUGrad, p.hessian ? this.sUHess : 0);
    this.arena.heap.u32[(this.meta >>> 2) + M_ZEROS] -= delta;
  }

  /**
   * Magnitude pruning of whole rows (the paper's baseline, section 4.2): keeps
   * the `keep` rows of largest l2 norm (ties: the earlier row) and sets every
   * other row's weights to exactly 0.0. Optimizer state is left as it is, so a
   * later step may bring a pruned row back (prune again after fine-tuning).
   * Returns the number of rows zeroed by this call.
   */
  pruneToTopRows(keep: number): number {
    this.live();
    this.quiesce();
    const n = this.size, d = this.rowLength, heap = this.arena.heap;
    if (!Number.isSafeInteger(keep) || keep < 0) throw new RangeError(`${this.optimizer}: keep = ${keep} must be a non-negative integer`);
    this.batchRows = -1;
    const chunks = heap.u32[(this.meta >>> 2) + M_CHUNKS] >>> 2, mask = (1 << this.shift) - 1;
    const rec = (r: number): number => heap.u32[chunks + (r >>> this.shift)] + (r & mask) * this.recBytes;
    const norms = new Float64Array(n);
    const w = heap.f32;
    for (let r = 0; r < n; r++) {
      const x = (rec(r) + HEADER_BYTES) >>> 2;
      let s = 0;
      for (let j = 0; j < d; j++) s += w[x + j] * w[x + j];
      norms[r] = s;
    }
    const order = Array.from({ length: n }, (_, r) => r).sort((a, b) => norms[b] - norms[a] || a - b);
    let zeroed = 0;
    for (let k = keep; k < n; k++) {
      const r = order[k], base = rec(r), flags = (base + H_FLAGS) >>> 2;
      heap.f32.fill(0, (base + HEADER_BYTES) >>> 2, ((base + HEADER_BYTES) >>> 2) + d);
      if ((heap.u32[flags] & 1) === 0) {
        heap.u32[flags] |= 1;
        heap.u32[(this.meta >>> 2) + M_ZEROS]++;
        zeroed++;
      }
    }
    return zeroed;
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
    this.live();
    this.quiesce();
    if (!Number.isSafeInteger(keep) || keep < 0) throw new RangeError(`${this.optimizer}: keep = ${keep} must be a non-negative integer`);
    const n = this.size, heap = this.arena.heap, m = this.meta >>> 2, rb = this.recBytes;
    if (keep >= n) return { evicted: 0, zeroEvicted: 0 };
    this.batchRows = -1;
    const chunks = heap.u32[m + M_CHUNKS] >>> 2, mask = (1 << this.shift) - 1;
    const rec = (r: number): number => heap.u32[chunks + (r >>> this.shift)] + (r & mask) * rb;
    const zero = new Uint8Array(n), count = new Uint32Array(n), tau = new Uint32Array(n);
    for (let r = 0; r < n; r++) {
      const b = rec(r) >>> 2;
      zero[r] = heap.u32[b + (H_FLAGS >>> 2)] & 1;
      count[r] = heap.u32[b + (H_COUNT >>> 2)];
      tau[r] = heap.u32[b + (H_TAU >>> 2)];
    }
    const order = Uint32Array.from({ length: n }, (_, r) => r).sort((a, b) => zero[b] - zero[a] || count[a] - count[b] || tau[a] - tau[b] || a - b);
    const gone = new Uint8Array(n);
    let zeroEvicted = 0;
    for (let k = 0; k < n - keep; k++) {
      gone[order[k]] = 1;
      zeroEvicted += zero[order[k]];
    }
    // The kept rows' keys and records, in row order, then the table is refilled with them.
    const ids = this.ids(), keys = new BigUint64Array(keep), recs = new Uint8Array(keep * rb);
    for (let r = 0, w = 0; r < n; r++) {
      if (gone[r]) continue;
      keys[w] = ids[r];
      const b = rec(r);
      recs.set(heap.u8.subarray(b, b + rb), w * rb);
      w++;
    }
    heap.u8.fill(0, heap.u32[m + M_SLOTS], heap.u32[m + M_SLOTS] + heap.u32[m + M_CAP] * INDEX_SLOT);
    heap.u32[m + M_SIZE] = 0;
    let zeros = 0;
    for (let r0 = 0; r0 < keep; r0 += 65536) {
      const k = this.resolveIds(keys.subarray(r0, Math.min(keep, r0 + 65536)));
      for (let i = 0; i < k; i++) {
        const at = heap.u32[(this.sRecs >>> 2) + i];
        heap.u8.set(recs.subarray((r0 + i) * rb, (r0 + i + 1) * rb), at);
        zeros += heap.u32[(at + H_FLAGS) >>> 2] & 1;
      }
    }
    heap.u32[m + M_ZEROS] = zeros;
    return { evicted: n - keep, zeroEvicted };
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
    this.live();
    const n = this.size, heap = this.arena.heap;
    const out = heap.alloc(Math.max(8, n * 8));
    this.arena.kernels.keysInRowOrder(this.meta, out);
    const res = heap.u64.slice(out >>> 3, (out >>> 3) + n);
    heap.release(out);
    return res;
  }

  /** The complete state (rows, ids, optimizer state, step, initialiser) as bytes. */
  save(): Uint8Array {
    this.live();
    const n = this.size, heap = this.arena.heap;
    const keys = new Uint8Array(this.ids().buffer);
    const recs = new Uint8Array(n * this.recBytes);
    const rowsPerChunk = 1 << this.shift, chunks = heap.u32[(this.meta >>> 2) + M_CHUNKS] >>> 2;
    for (let r = 0; r < n; r += rowsPerChunk) {
      const rows = Math.min(rowsPerChunk, n - r);
      const base = heap.u32[chunks + (r >>> this.shift)];
      recs.set(heap.u8.subarray(base, base + rows * this.recBytes), r * this.recBytes);
    }
    return encodeEnvelope(
      {
        kind: "table", version: 1, optimizer: this.optimizer, hyper: this.hyper, rowLength: this.rowLength,
        seed: this.seed, init: this.init, step: this.t, size: n, zeroRows: this.zeroRows, recordBytes: this.recBytes,
      },
      [keys, recs],
    );
  }

  /** Restores a table saved by `save`; continuing it equals never having stopped. */
  static load(bytes: Uint8Array, backend: Backend = "wasm"): SparseTable {
    const what = "sparse table state";
    const named = <T>(f: () => T): T => namedErrors(what, f);
    const { header: h, body } = decodeEnvelope(bytes, what);
    if (h.kind !== "table" || h.version !== 1) throw new RangeError(`${what}: kind/version ${String(h.kind)}/${String(h.version)} is not table/1`);
    if (!isOptimizerName(h.optimizer)) throw new RangeError(`${what}: unknown optimizer ${JSON.stringify(h.optimizer)}`);
    const name = h.optimizer;
    const hyper = named(() => resolveHyperparams(name, h.hyper as Record<string, never>));
    const d = intField(h, "rowLength", what, MAX_ROW);
    const seed = intField(h, "seed", what, 0xffffffff);
    const step = intField(h, "step", what, 2 ** 32 - 2);
    const size = intField(h, "size", what, 2 ** 31);
    const zeroRows = intField(h, "zeroRows", what, size);
    const recBytes = intField(h, "recordBytes", what);
    if (body.length !== size * 8 + size * recBytes) throw new RangeError(`${what}: body has ${body.length} bytes, the header implies ${size * (8 + recBytes)}`);
    const t = named(() => new SparseTable(name, hyper, { rowLength: d, seed, init: h.init as RowInit }, backend));
    if (t.recBytes !== recBytes) {
      t.dispose();
      throw new RangeError(`${what}: record size ${recBytes} does not match ${t.recBytes} of ${h.optimizer}`);
    }
    const keys = new BigUint64Array(body.slice(0, size * 8).buffer);
    const heap = t.arena.heap, recs = body.subarray(size * 8);
    const batch = 65536;
    let zeros = 0;
    for (let r0 = 0; r0 < size; r0 += batch) {
      const n = t.resolveIds(keys.subarray(r0, Math.min(size, r0 + batch)));
      if (t.size !== r0 + n) {
        t.dispose();
        throw new RangeError(`${what}: the ${size} saved ids are not distinct`);
      }
      for (let i = 0; i < n; i++) {
        const rec = heap.u32[(t.sRecs >>> 2) + i], r = r0 + i;
        heap.u8.set(recs.subarray(r * recBytes, (r + 1) * recBytes), rec);
        // The record header must agree with the weights and the step: the
        // kernels index the bias-correction table by a row's last step and
        // update count, and the zero flag drives the live-row counts.
        const u = heap.u32, x = (rec + HEADER_BYTES) >>> 2;
        const flags = u[(rec + H_FLAGS) >>> 2], tau = u[(rec + H_TAU) >>> 2], count = u[(rec + H_COUNT) >>> 2];
        let zero = 1;
        for (let j = 0; j < d; j++) if (heap.f32[x + j] !== 0) { zero = 0; break; }
        if (flags !== zero || tau > step || count > step) {
          t.dispose();
          throw new RangeError(`${what}: row ${r} (id ${keys[r]}) has zero flag ${flags}, last step ${tau} and ${count} updates, which do not fit its ${zero ? "zero" : "non-zero"} weights and step ${step}`);
        }
        // Weights, the last learning rate and the moments must be numbers: a NaN would spread through every later step.
        const bad = nonFiniteIn(heap.f32, (rec + 4) >>> 2, 1) ?? nonFiniteIn(heap.f32, x, (recBytes - HEADER_BYTES) >>> 2);
        if (bad !== undefined) {
          t.dispose();
          throw new RangeError(`${what}: row ${r} (id ${keys[r]}) holds a non-finite value (${bad}) in its weights or optimizer state`);
        }
        zeros += zero;
      }
    }
    if (zeros !== zeroRows) {
      t.dispose();
      throw new RangeError(`${what}: ${zeros} rows are flagged zero, the header says ${zeroRows}`);
    }
    heap.u32[(t.meta >>> 2) + M_ZEROS] = zeros;
    t.t = step;
    return t;
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

  private word(w: number): number {
    this.live();
    return this.arena.heap.u32[(this.meta >>> 2) + w];
  }

  private live(): void {
    if (this.disposed) throw new Error(`${this.optimizer}: the table was disposed`);
  }

  private lookup(id: number | bigint): number {
    this.live();
    const [lo, hi] = idToParts(this.optimizer, id);
    return this.arena.kernels.lookup(this.meta, lo, hi) >>> 0;
  }

  /** Copies ids to scratch and resolves them to record addresses at sRecs; returns their count. */
  private resolveIds(ids: FeatureIds): number {
    this.live();
    this.quiesce();
    this.batchRows = -1;
    const n = idCount(this.optimizer, ids);
    this.ensureScratch(n);
    this.ensureRows(this.size + n);
    writeIds(this.optimizer, ids, this.arena.heap, this.sIds);
    this.arena.kernels.resolve(this.meta, this.sIds, n, this.sRecs);
    return n;
  }

  private ensureScratch(n: number): void {
    if (n <= this.scratchN) return;
    this.quiesce();
    const heap = this.arena.heap, d = this.rowLength, la = this.la;
    for (const p of [this.sIds, this.sRecs, this.sGrad, this.sHess, this.sURecs, this.sUGrad, this.sUHess, this.sTab, this.sInv, ...Object.values(la)]) if (p) heap.release(p);
    this.batchRows = -1;
    const cap = Math.max(64, 2 ** Math.ceil(Math.log2(n)));
    this.sIds = heap.alloc(cap * 8);
    this.sRecs = heap.alloc(cap * 4);
    this.sGrad = heap.alloc(cap * d * 4);
    this.sURecs = heap.alloc(cap * 8);
    this.sInv = heap.alloc(cap * 4);
    this.sUGrad = heap.alloc(cap * d * 4);
    const hess = ruleUsesHessian(this.optimizer);
    this.sHess = hess ? heap.alloc(cap * d * 4) : 0;
    this.sUHess = hess ? heap.alloc(cap * d * 4) : 0;
    // Dedup entries (u32) at load <= 0.5 even when every id of a batch is distinct.
    this.sTab = heap.alloc(cap * 2 * 4);
    if (this.arena.backend === "wasm") {
      // The lookahead's set, in the layout of the batch lookup's above (the two are swapped).
      this.la = { ids: heap.alloc(cap * 8), hashes: heap.alloc(cap * 4), inverse: heap.alloc(cap * 4), recs: heap.alloc(cap * 8), keys: heap.alloc(cap * 8), tab: heap.alloc(cap * 2 * 4), init: heap.alloc(cap * d * 4) };
    }
    this.stamp++;
    this.scratchN = cap;
  }

  /** Makes room for `rows` rows: record chunks and index capacity. */
  private ensureRows(rows: number): void {
    const heap = this.arena.heap, m = this.meta >>> 2;
    const need = Math.ceil(rows / (1 << this.shift));
    if (need > this.chunkCount) {
      if (need > this.chunkCap) {
        const cap = Math.max(16, 2 ** Math.ceil(Math.log2(need)));
        const p = heap.alloc(cap * 4);
        const old = heap.u32[m + M_CHUNKS];
        if (old) {
          heap.u32.copyWithin(p >>> 2, old >>> 2, (old >>> 2) + this.chunkCount);
          heap.release(old);
        }
        heap.u32[m + M_CHUNKS] = p;
        this.chunkCap = cap;
      }
      while (this.chunkCount < need) {
        const c = heap.alloc((1 << this.shift) * this.recBytes);
        heap.u32[(heap.u32[m + M_CHUNKS] >>> 2) + this.chunkCount++] = c;
      }
    }
    const cap = heap.u32[m + M_CAP];
    if (rows > cap * MAX_LOAD) {
      let nc = cap;
      while (rows > nc * MAX_LOAD) nc *= 2;
      if (nc > 2 ** 31) throw new RangeError(`${this.optimizer}: ${rows} rows exceed the index limit of one table shard`);
      const old = heap.u32[m + M_SLOTS];
      this.arena.kernels.rehash(this.meta, heap.alloc(nc * INDEX_SLOT), nc);
      heap.release(old);
    }
  }
}

function parseInit(name: string, init: RowInit): [number, number, number] {
  if (init === "zeros") return [0, 0, 0];
  const ok = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
  if (init && typeof init === "object" && "uniform" in init) {
    const [lo, hi] = init.uniform ?? [];
    if (ok(lo) && ok(hi) && lo <= hi) return [1, lo, hi];
  } else if (init && typeof init === "object" && "normal" in init) {
    const mean = init.normal?.mean ?? 0, std = init.normal?.std;
    if (ok(mean) && ok(std) && std >= 0) return [2, mean, std];
  }
  throw new RangeError(`${name}: init ${JSON.stringify(init)} is invalid: use "zeros", { uniform: [low, high] } or { normal: { mean?, std } }`);
}

function idCount(name: string, ids: FeatureIds): number {
  if (ids === null || typeof ids !== "object" || typeof (ids as ArrayLike<unknown>).length !== "number") {
    throw new TypeError(`${name}: ids must be a BigUint64Array, Uint32Array, Int32Array, Float64Array or an array`);
  }
  return ids.length;
}

function idAt(ids: FeatureIds, i: number): number | bigint {
  return (ids as ArrayLike<number | bigint>)[i];
}
