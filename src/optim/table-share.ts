/**
 * A sparse table trained by several threads at once: the owner side
 * ({@link shareTable}, {@link reserveRows}, {@link unshareTable}) and the
 * view each worker thread trains through ({@link SharedTableView}).
 *
 * The rows stay in the owner's shared WebAssembly memory, one copy for every
 * thread. Each worker has its own kernel instance over that memory and its
 * own working memory in it (batch scratch, a parameter block, the row
 * update's scratch), all allocated by the owner before the workers start:
 * a worker never allocates. New ids are inserted concurrently and each row's
 * step holds the row's lock (kernels/assembly/concurrent.ts); the global
 * step t is one shared counter that every worker's step takes the next
 * value of, or, in merged rounds (holdStep, stepOwned), one step a round
 * for every worker, each row stepped once with its gradients added up, by
 * the one worker that owns it in the round (without its lock: no other
 * thread writes or reads it then).
 * The index and the row chunks grow only on the owner while no
 * worker runs: the owner reserves room for a number of new rows
 * ({@link reserveRows}) and a worker checks {@link SharedTableView.hasRoom}
 * before each batch (asking the owner for more when it is short).
 */
import { Heap } from "../kernels/heap.js";
import { M_SIZE, M_ZEROS, P_ALPHA, P_BIAS, P_T, TMP_S, TMP_SINK } from "../kernels/layout.js";
import { sharedKernelExports } from "../kernels/wasm.js";
import type { SharedKernelModule } from "../kernels/generated/shared-kernel-exports.js";
import { StepCall } from "./call.js";
import { checkLr, ruleUsesHessian, type StepOptions } from "./checks.js";
import type { OptimizerName, ResolvedHyperparams } from "./hyper.js";
import { writeIds, type FeatureIds } from "./ids.js";
import type { SparseTable } from "./table.js";

/** Steps whose bias corrections a worker's parameter block holds (the kernels clamp later steps to the last). */
const BIAS_STEPS = 2 ** 20 - 1;

/** One worker's working memory in the table's memory (byte addresses). */
export interface WorkerScratch {
  /** Ids a batch may hold. */
  capacity: number;
  params: number;
  rowScratch: number;
  ids: number;
  keys: number;
  inverse: number;
  recs: number;
  tab: number;
  grad: number;
  ugrad: number;
  hess: number;
  uhess: number;
  /** A held step's rows grouped by owner (u32 positions), their groups' starts (workers + 1 u32) and the merge's cursor (2 u32). */
  order: number;
  offsets: number;
  cursor: number;
}

/** What a worker thread needs to train a shared table (plain data: posted to the thread). */
export interface TableShare {
  memory: WebAssembly.Memory;
  meta: number;
  optimizer: OptimizerName;
  hyper: ResolvedHyperparams;
  rowLength: number;
  /** u32 words: [0] the global step count, [1] the rows the index and chunks have room for. */
  words: number;
  workers: WorkerScratch[];
  /** The workers' held steps for the merge (round-merge.ts): per worker 5 u32 words (recs, ugrad, uhess, order, offsets). */
  lists: number;
}

const W_STEP = 0;
const W_ROOM = 1;

/**
 * Prepares a table for `workers` threads with batches of up to `maxIds` ids
 * each: their scratch and parameter blocks, the step counter (at the
 * table's step count) and room for `room` new rows.
 */
export function shareTable(t: SparseTable, workers: number, maxIds: number, room: number): TableShare {
  if (t.arena.backend !== "wasm") throw new Error(`${t.optimizer}: only tables on the WebAssembly backend can be shared by threads`);
  if (!Number.isSafeInteger(workers) || workers < 1) throw new RangeError(`workers = ${workers} must be a positive integer`);
  if (!Number.isSafeInteger(maxIds) || maxIds < 1) throw new RangeError(`maxIds = ${maxIds} must be a positive integer`);
  const store = t.mutate(), heap = t.arena.heap, d = t.rowLength, hessian = ruleUsesHessian(t.optimizer);
  const words = heap.alloc(16);
  const list: WorkerScratch[] = [];
  for (let w = 0; w < workers; w++) {
    const call = new StepCall(t.arena, t.optimizer, t.hyper, d, true);
    call.prepare(BIAS_STEPS, t.hyper.lr);
    const cap = Math.max(64, 2 ** Math.ceil(Math.log2(maxIds)));
    list.push({
      capacity: cap,
      params: call.ptr,
      rowScratch: heap.alloc(TMP_SINK - TMP_S),
      ids: heap.alloc(cap * 8),
      keys: heap.alloc(cap * 8),
      inverse: heap.alloc(cap * 4),
      recs: heap.alloc(cap * 4),
      tab: heap.alloc(cap * 2 * 4),
      grad: heap.alloc(cap * d * 4),
      ugrad: heap.alloc(cap * d * 4),
      hess: hessian ? heap.alloc(cap * d * 4) : 0,
      uhess: hessian ? heap.alloc(cap * d * 4) : 0,
      order: heap.alloc(cap * 4),
      offsets: heap.alloc((workers + 1) * 4),
      cursor: heap.alloc(8),
    });
  }
  const lists = heap.alloc(workers * 5 * 4);
  list.forEach((sc, w) => heap.u32.set([sc.recs, sc.ugrad, sc.uhess, sc.order, sc.offsets], (lists >>> 2) + w * 5));
  const share: TableShare = { memory: heap.memory, meta: store.meta, optimizer: t.optimizer, hyper: t.hyper, rowLength: d, words, workers: list, lists };
  heap.u32[(words >>> 2) + W_STEP] = t.stepCount;
  reserveRows(t, share, room);
  return share;
}

/**
 * Gives back to the table's memory what {@link shareTable} allocated for the
 * workers (scratch, parameter blocks with their bias tables, the step
 * counter), once no worker uses the share: a table shared by run after run
 * (a refit, scoring threads) does not grow by every run's scratch.
 */
export function unshareTable(t: SparseTable, share: TableShare): void {
  const heap = t.arena.heap;
  if (heap.memory !== share.memory) throw new Error(`${t.optimizer}: the share is not this table's`);
  for (const sc of share.workers) {
    const bias = heap.u32[(sc.params >>> 2) + P_BIAS];
    if (bias !== 0) heap.release(bias);
    for (const p of [sc.params, sc.rowScratch, sc.ids, sc.keys, sc.inverse, sc.recs, sc.tab, sc.grad, sc.ugrad, sc.hess, sc.uhess, sc.order, sc.offsets, sc.cursor]) {
      if (p !== 0) heap.release(p);
    }
  }
  heap.release(share.lists);
  heap.release(share.words);
}

/**
 * Makes room for `rows` more rows than the table holds (index and chunks)
 * and tells the workers. Only while no worker uses the table.
 */
export function reserveRows(t: SparseTable, share: TableShare, rows: number): void {
  const store = t.mutate(), heap = t.arena.heap;
  const target = store.size + rows;
  store.ensureRows(target, t.optimizer);
  heap.u32[(share.words >>> 2) + W_ROOM] = target;
}

/** The global step count the workers reached (the owner adopts it: see SparseTable.adoptStepCount). */
export function sharedStepCount(t: SparseTable, share: TableShare): number {
  return t.arena.heap.u32[(share.words >>> 2) + W_STEP];
}

/** Sets the global step count the workers continue from (the owner's, after it adopted another; only while no worker steps the table). */
export function setSharedStepCount(t: SparseTable, share: TableShare, steps: number): void {
  if (!Number.isSafeInteger(steps) || steps < 0 || steps > 0xffffffff) throw new RangeError(`step count ${steps} out of range`);
  Atomics.store(t.arena.heap.u32, (share.words >>> 2) + W_STEP, steps);
}

/**
 * A worker thread's handle of a shared table: the training half of
 * SparseTable's interface (gatherBatch, stepBatch) over the owner's rows,
 * safe while other workers use the same table.
 */
export class SharedTableView {
  readonly optimizer: OptimizerName;
  readonly rowLength: number;
  readonly hyper: ResolvedHyperparams;
  private readonly heap: Heap;
  private readonly k: SharedKernelModule;
  private readonly sc: WorkerScratch;
  private readonly meta: number;
  private readonly words: number;
  private batchRows = -1;
  private distinct = 0;
  private readonly lists: number;
  private readonly worker: number;
  private readonly owners: number;
  /** The step of the round whose step this worker holds (holdStep), and whether its stepBatch came. */
  private heldAt: number | undefined;
  private heldRows = 0;

  constructor(share: TableShare, worker: number) {
    const sc = share.workers[worker];
    if (sc === undefined) throw new RangeError(`${share.optimizer}: the table is shared with ${share.workers.length} workers, not worker ${worker}`);
    this.optimizer = share.optimizer;
    this.rowLength = share.rowLength;
    this.hyper = share.hyper;
    this.heap = new Heap(share.memory);
    this.k = sharedKernelExports(share.memory);
    this.k.setScratchBase(sc.rowScratch);
    this.sc = sc;
    this.meta = share.meta;
    this.words = share.words;
    this.lists = share.lists;
    this.worker = worker;
    this.owners = share.workers.length;
  }

  /** Rows present (all workers'). */
  get size(): number { return Atomics.load(this.heap.u32, (this.meta >>> 2) + M_SIZE); }
  /** Rows whose weights are all exactly zero. */
  get zeroRows(): number { return Atomics.load(this.heap.u32, (this.meta >>> 2) + M_ZEROS); }
  get liveRows(): number { return this.size - this.zeroRows; }
  /** Steps taken by all workers together. */
  get stepCount(): number { return Atomics.load(this.heap.u32, (this.words >>> 2) + W_STEP); }

  /**
   * Holds this worker's next stepBatch for the round's merged step at
   * global step t (--dense-updates split): stepBatch then only groups its
   * rows and gradient sums by owner, and after every worker of the round
   * held its step (a barrier), each calls stepOwned. A worker without a
   * batch in the round holds an empty step.
   */
  holdStep(t: number): void {
    if (!Number.isSafeInteger(t) || t < 1) throw new RangeError(`${this.optimizer}: step ${t} must be a positive integer`);
    this.heldAt = t;
    this.heldRows = 0;
    this.heap.u32.fill(0, this.sc.offsets >>> 2, (this.sc.offsets >>> 2) + this.owners + 1);
  }

  /**
   * The round's one step of the rows this worker owns, with their gradients
   * added up over every worker's held step in worker order
   * (kernels/assembly/round-merge.ts): a row met in several shares takes
   * one step, as with one worker. Only once every worker of the round held
   * its step, and before any of them gathers the next batch.
   */
  stepOwned(opts: { lr?: number } = {}): void {
    const t = this.heldAt;
    if (t === undefined) throw new Error(`${this.optimizer}: stepOwned needs a holdStep first`);
    this.heldAt = undefined;
    const sc = this.sc, heap = this.heap, lr = checkLr(this.optimizer, opts.lr, this.hyper.lr);
    heap.u32.fill(0, sc.cursor >>> 2, (sc.cursor >>> 2) + 2);
    // sc.ids, grad, hess and tab are free until the next gatherBatch; recs, ugrad and uhess are read by the other workers' merges.
    do {
      const n = this.k.mergeOwned(this.lists, this.owners, this.worker, this.rowLength, sc.capacity, sc.cursor, sc.ids, sc.grad, sc.hess, sc.tab);
      if (n > 0) this.update(t, lr, sc.ids, n, sc.grad, sc.hess, true);
    } while (heap.u32[sc.cursor >>> 2] < this.owners);
  }

  /**
   * Algorithm 1's step at global step t of n rows (records at recs, their
   * gradient sums at g, Hessian sums at h or 0); the zero-row count follows.
   * Each row's step holds its lock, unless `owned`: a merged round's rows,
   * which only this worker steps in the round, while no worker reads or
   * creates rows (between the round's barriers). Locks there would only
   * cost: each atomic waits for its row's cache line, so that the rows'
   * misses no longer overlap (profiled on dcn, 2 workers, 1M rows: the
   * rows' update took 0.48-0.52 s of each worker's 7 s with the locks,
   * 0.15-0.17 s without).
   */
  private update(t: number, lr: number, recs: number, n: number, g: number, h: number, owned = false): void {
    const heap = this.heap, p = this.sc.params >>> 2;
    heap.u32[p + P_T] = t;
    heap.f32[p + P_ALPHA] = lr;
    const delta = owned ? this.k.updateSparse(this.sc.params, recs, n, g, h) : this.k.updateSparseShared(this.sc.params, recs, n, g, h);
    if (delta !== 0) Atomics.sub(heap.u32, (this.meta >>> 2) + M_ZEROS, delta);
  }

  /** One more global step (a round's, with holdStep). */
  advanceStep(): void {
    Atomics.add(this.heap.u32, (this.words >>> 2) + W_STEP, 1);
  }

  /** True when a batch of n ids surely fits in the room the owner reserved. */
  hasRoom(n: number): boolean {
    return this.size + n <= Atomics.load(this.heap.u32, (this.words >>> 2) + W_ROOM);
  }

  /**
   * The weights of a batch's ids (n x rowLength floats), creating the rows
   * of new ids; the lookup is kept for the stepBatch that follows. The
   * caller checked hasRoom(ids.length).
   */
  gatherBatch(ids: FeatureIds, out?: Float32Array): Float32Array {
    const n = ids.length, d = this.rowLength, sc = this.sc;
    if (n > sc.capacity) throw new RangeError(`${this.optimizer}: a batch of ${n} features is more than the ${sc.capacity} the worker threads were prepared for (rows with many features of one field): train with the deterministic trainer or a smaller batch`);
    if (!this.hasRoom(n)) throw new RangeError(`${this.optimizer}: no room reserved for ${n} new rows (the owner must reserve more while the workers wait)`);
    const res = out ?? new Float32Array(n * d);
    if (res.length !== n * d) throw new RangeError(`${this.optimizer}: gatherBatch output has ${res.length} floats, expected ${n * d}`);
    writeIds(this.optimizer, ids, this.heap, sc.ids);
    this.distinct = this.k.dedupResolveShared(this.meta, sc.ids, n, sc.recs, sc.inverse, sc.keys, sc.tab);
    this.k.gatherInverse(sc.recs, sc.inverse, n, d, sc.grad, this.distinct);
    res.set(this.heap.f32.subarray(sc.grad >>> 2, (sc.grad >>> 2) + n * d));
    this.batchRows = n;
    return res;
  }

  /**
   * One step on the rows of the last gatherBatch with one gradient row per
   * id (duplicates summed first, in order), at the next global step; each
   * row's update holds its lock.
   */
  stepBatch(grads: ArrayLike<number>, opts: StepOptions = {}): void {
    const n = this.batchRows, d = this.rowLength, sc = this.sc, heap = this.heap, k = this.k;
    if (n < 0) throw new Error(`${this.optimizer}: stepBatch needs a gatherBatch just before it`);
    const lr = checkLr(this.optimizer, opts.lr, this.hyper.lr);
    if (grads.length !== n * d) throw new RangeError(`${this.optimizer}: gradient has ${grads.length} floats, expected ${n * d}`);
    heap.f32.set(grads, sc.grad >>> 2);
    let h = 0;
    if (sc.hess) {
      if (opts.hessian === undefined) throw new TypeError(`${this.optimizer}: step needs opts.hessian, the Hessian diagonal estimate`);
      heap.f32.set(opts.hessian, sc.hess >>> 2);
      h = sc.hess;
    }
    const u = this.distinct;
    k.accumulateInverse(sc.inverse, n, sc.grad, h, d, sc.ugrad, h ? sc.uhess : 0, u);
    const bad = k.findNonFinite(sc.ugrad, u * d);
    if (bad >= 0) throw new RangeError(`${this.optimizer}: the gradient sum of a row is not finite (${heap.f32[(sc.ugrad >>> 2) + bad]})`);
    this.batchRows = -1;
    if (this.heldAt !== undefined) {
      if (this.heldRows++ > 0) throw new Error(`${this.optimizer}: one stepBatch a held round (holdStep)`);
      k.bucketByOwner(sc.recs, u, this.owners, sc.order, sc.offsets);
      return;
    }
    this.update(Atomics.add(heap.u32, (this.words >>> 2) + W_STEP, 1) + 1, lr, sc.recs, u, sc.ugrad, h ? sc.uhess : 0);
  }

  /**
   * The weights of ids without creating rows (an id without a row reads as
   * zeros), for an evaluation while no worker trains: `opts.create` must be
   * false. In pieces of the worker's scratch capacity.
   */
  gather(ids: FeatureIds, out?: Float32Array, opts: { create?: boolean } = {}): Float32Array {
    if (opts.create !== false) throw new Error(`${this.optimizer}: a worker thread's view of a shared table creates rows only in gatherBatch`);
    const n = ids.length, d = this.rowLength, sc = this.sc;
    const res = out ?? new Float32Array(n * d);
    if (res.length !== n * d) throw new RangeError(`${this.optimizer}: gather output has ${res.length} floats, expected ${n * d}`);
    this.batchRows = -1;
    for (let a = 0; a < n; a += sc.capacity) {
      const m = Math.min(sc.capacity, n - a);
      writeIds(this.optimizer, a === 0 && m === n ? ids : sliceIds(ids, a, a + m), this.heap, sc.ids);
      this.k.gatherExisting(this.meta, sc.ids, m, sc.grad, sc.recs, sc.inverse, sc.keys, sc.tab);
      res.set(this.heap.f32.subarray(sc.grad >>> 2, (sc.grad >>> 2) + m * d), a * d);
    }
    return res;
  }
}

/** Ids [a, b) of a list of ids. */
function sliceIds(ids: FeatureIds, a: number, b: number): FeatureIds {
  if (Array.isArray(ids)) return (ids as readonly (number | bigint)[]).slice(a, b) as FeatureIds;
  return (ids as Exclude<FeatureIds, readonly number[] | readonly bigint[]>).subarray(a, b);
}
