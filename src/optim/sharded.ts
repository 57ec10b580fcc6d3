import { decodeEnvelope, encodeEnvelope, intField } from "../io/envelope.js";
import { fmix32 } from "../util/fmix32.js";
import { Arena } from "../kernels/arena.js";
import type { Backend } from "../kernels/kernels.js";
import { copyInto, type StepOptions } from "./checks.js";
import { joinIds } from "./ids.js";
import type { OptimizerName, ResolvedHyperparams } from "./hyper.js";
import { SparseTable, type TableOptions } from "./table.js";

/** At most this many shards (each one WebAssembly memory of up to 4 GiB). */
export const MAX_SHARDS = 64;

/**
 * A row-sparse table split over several {@link SparseTable}s by a hash of the
 * feature key, for tables larger than one WebAssembly memory (4 GiB): the
 * paper's Criteo table (34M rows) needs two at embedding 8 with Adam's state.
 * Every shard takes every step (an empty one included), so all share the
 * global step count; within a shard the ids keep their batch order. A row's
 * update depends only on its own gradients and the step, so training a
 * sharded table gives exactly the rows an unsharded one would.
 */
export class ShardedTable {
  readonly shards: SparseTable[];
  readonly rowLength: number;
  readonly optimizer: OptimizerName;
  /** The partition of the last gather, and one made ahead for the next batch (see lookahead). */
  private cur: Partition;
  private next: Partition;
  private aheadIds: BigUint64Array | undefined;
  private batchN = -1;
  /**
   * Where batches change order: the partitions' ids, slots, keys and rows,
   * and a batch-ordered block of rows, in one shared memory (growing it
   * leaves earlier views valid) with the kernels that move them.
   */
  private readonly stage: Arena;
  private io = 0;
  private ioFloats = 0;

  constructor(shards: SparseTable[]) {
    if (shards.length < 1 || shards.length > MAX_SHARDS) throw new RangeError(`a sharded table needs 1 to ${MAX_SHARDS} shards, got ${shards.length}`);
    this.shards = shards;
    this.rowLength = shards[0].rowLength;
    this.optimizer = shards[0].optimizer;
    this.stage = new Arena(shards[0].arena.backend, { shared: true });
    this.cur = new Partition(this.stage, shards.length, this.rowLength);
    this.next = new Partition(this.stage, shards.length, this.rowLength);
  }

  /** `count` shards with the same optimizer and options (each seeded by the table seed: initial rows depend on (seed, id) only). */
  static create(optimizer: OptimizerName, hyper: ResolvedHyperparams, options: TableOptions, count: number, backend: Backend = "wasm"): ShardedTable {
    if (!Number.isInteger(count) || count < 1 || count > MAX_SHARDS) throw new RangeError(`shards = ${count} must be an integer in [1, ${MAX_SHARDS}]`);
    return new ShardedTable(Array.from({ length: count }, () => new SparseTable(optimizer, hyper, options, backend)));
  }

  /** The shard of a key: a mix of its two 32-bit halves. */
  shardOf(id: bigint): number {
    // The partitionKeys kernel mixes the same way.
    return fmix32((Number(id & 0xffffffffn) ^ Math.imul(Number(id >> 32n), 0x9e3779b1)) >>> 0) % this.shards.length;
  }

  get size(): number { return this.sum((t) => t.size); }
  get zeroRows(): number { return this.sum((t) => t.zeroRows); }
  get liveRows(): number { return this.sum((t) => t.liveRows); }
  get stepCount(): number { return this.shards[0].stepCount; }
  get memoryBytes(): number { return this.sum((t) => t.memoryBytes); }
  get recordBytes(): number { return this.shards[0].recordBytes; }

  /** As {@link SparseTable.gather}, ids given as 64-bit keys. */
  gather(ids: BigUint64Array, out?: Float32Array, opts: { create?: boolean } = {}): Float32Array {
    this.batchN = -1;
    this.aheadIds = undefined;
    this.cur.split(ids);
    return this.scatter(ids, out, (t, k, o) => t.gather(k, o, opts));
  }

  /** As {@link SparseTable.gatherBatch}: the gather half of a training step. */
  gatherBatch(ids: BigUint64Array, out?: Float32Array): Float32Array {
    if (this.aheadIds === ids && ids.length === this.next.n) [this.cur, this.next] = [this.next, this.cur];
    else this.cur.split(ids);
    this.aheadIds = undefined;
    // Each shard uses its lookahead when the partition was made ahead (the same key arrays).
    const res = this.scatter(ids, out, (t, k, o) => t.gatherBatch(k, o));
    this.batchN = ids.length;
    return res;
  }

  /** As {@link SparseTable.lookahead}, for every shard: the next batch's partition is made now. @internal */
  lookahead(ids: BigUint64Array): boolean {
    this.next.split(ids);
    this.aheadIds = ids;
    let any = false;
    this.shards.forEach((t, s) => { any = t.lookahead(this.next.subKeys[s]) || any; });
    return any;
  }

  /** As {@link SparseTable.stepBatch}: every shard steps (empty ones too), with its rows of the gradient. */
  stepBatch(grads: ArrayLike<number>, opts: StepOptions = {}): void {
    const n = this.batchN, d = this.rowLength;
    if (n < 0) throw new Error(`${this.optimizer}: stepBatch needs a gatherBatch just before it`);
    if (grads.length !== n * d) throw new RangeError(`${this.optimizer}: gradient has ${grads.length} floats, expected ${n * d}`);
    const g = this.split(grads, n, false), h = opts.hessian === undefined ? undefined : this.split(opts.hessian, n, true);
    this.batchN = -1;
    this.shards.forEach((t, s) => t.stepBatch(g[s], h ? { ...opts, hessian: h[s] } : opts));
  }

  ids(): BigUint64Array {
    return joinIds(this.shards.map((t) => t.ids()));
  }

  liveIds(): BigUint64Array {
    return joinIds(this.shards.map((t) => t.liveIds()));
  }

  get(id: bigint): Float32Array | undefined { return this.shards[this.shardOf(id)].get(id); }
  has(id: bigint): boolean { return this.shards[this.shardOf(id)].has(id); }
  isZero(id: bigint): boolean { return this.shards[this.shardOf(id)].isZero(id); }

  pruneToTopRows(_keep: number): number {
    throw new Error(`${this.optimizer}: magnitude pruning of a sharded table is not supported yet (use one shard)`);
  }

  evictTo(_keep: number): { evicted: number; zeroEvicted: number } {
    throw new Error(`${this.optimizer}: eviction from a sharded table is not supported yet (use one shard)`);
  }

  /** The shards' states in one envelope, sealed (`_into` and `_seal` unused: the shards' states are joined). */
  save(_into?: Uint8Array, _seal = true): Uint8Array {
    const parts = this.shards.map((t) => t.save());
    return encodeEnvelope({ kind: "sharded-table", version: 1, shards: parts.length, bytes: parts.map((p) => p.length) }, parts);
  }

  static load(bytes: Uint8Array, backend: Backend = "wasm"): ShardedTable {
    const what = "sharded table state";
    const { header: h, body } = decodeEnvelope(bytes, what);
    if (h.kind !== "sharded-table" || h.version !== 1) throw new RangeError(`${what}: kind/version ${String(h.kind)}/${String(h.version)} is not sharded-table/1`);
    const count = intField(h, "shards", what, MAX_SHARDS);
    const sizes = h.bytes;
    if (count < 1 || !Array.isArray(sizes) || sizes.length !== count || sizes.some((x) => typeof x !== "number" || !Number.isSafeInteger(x) || x < 16)) throw new RangeError(`${what}: shard sizes missing or invalid`);
    if ((sizes as number[]).reduce((a, b) => a + b, 0) !== body.length) throw new RangeError(`${what}: shard sizes do not add up to the ${body.length} bytes of the body`);
    const shards: SparseTable[] = [];
    let o = 0;
    try {
      for (const n of sizes as number[]) { shards.push(SparseTable.load(body.subarray(o, o + n), backend)); o += n; }
    } catch (e) {
      shards.forEach((t) => t.dispose());
      throw e;
    }
    const t = new ShardedTable(shards);
    if (shards.some((s) => s.rowLength !== t.rowLength || s.optimizer !== t.optimizer || s.stepCount !== t.stepCount)) throw new RangeError(`${what}: the shards disagree on row length, optimizer or step`);
    return t;
  }

  dispose(): void {
    for (const t of this.shards) t.dispose();
  }

  private sum(f: (t: SparseTable) => number): number {
    let s = 0;
    for (const t of this.shards) s += f(t);
    return s;
  }

  /** Runs f per shard on the current partition of ids, scatters the rows back in batch order. */
  private scatter(ids: BigUint64Array, out: Float32Array | undefined, f: (t: SparseTable, keys: BigUint64Array, out: Float32Array) => Float32Array): Float32Array {
    const n = ids.length, d = this.rowLength, p = this.cur;
    const res = out ?? new Float32Array(n * d);
    if (res.length !== n * d) throw new RangeError(`${this.optimizer}: output has ${res.length} floats, expected ${n * d}`);
    // Each shard writes its rows into the view it is given.
    this.shards.forEach((t, s) => f(t, p.subKeys[s], p.subRows[s]));
    const io = this.ioBlock(n * d);
    this.stage.kernels.gatherSlots(p.rows, p.slot, n, d, io);
    res.set(this.stage.heap.f32.subarray(io >>> 2, (io >>> 2) + n * d));
    return res;
  }

  /**
   * The rows of a batch-ordered array (n x rowLength) that belong to each
   * shard, in order, by the partition of the last gather: views of the
   * gathered rows' block (no longer needed) for the gradient, of a block of
   * their own for a Hessian.
   */
  private split(a: ArrayLike<number>, n: number, hessian: boolean): Float32Array[] {
    const d = this.rowLength, p = this.cur, io = this.ioBlock(n * d);
    copyInto(this.optimizer, hessian ? "hessian" : "gradient", a, n * d, this.stage.heap, io);
    const dst = hessian ? p.hessianRows() : p.rows;
    this.stage.kernels.scatterSlots(io, p.slot, n, d, dst);
    return p.views(dst);
  }

  /** The batch-ordered block, room for `floats`. */
  private ioBlock(floats: number): number {
    if (floats > this.ioFloats) {
      if (this.io) this.stage.heap.release(this.io);
      this.ioFloats = Math.max(floats, 2 * this.ioFloats);
      this.io = this.stage.heap.alloc(this.ioFloats * 4);
    }
    return this.io;
  }
}

/**
 * A batch's ids split by shard, keeping their order within each shard (the
 * partitionKeys kernel): per shard a block of keys and a block of rows, the
 * blocks one after the other, and for each batch position the index of its
 * row (slot). Blocks only grow (doubling), so a step allocates nothing but
 * views once the batch sizes settle.
 */
class Partition {
  n = -1;
  cap = 0;
  ids = 0;
  slot = 0;
  keys = 0;
  rows = 0;
  private hess = 0;
  private readonly countsAt: number;
  private starts: number[] = [];
  private counts: number[] = [];
  readonly subKeys: BigUint64Array[] = [];
  subRows: Float32Array[] = [];

  constructor(private readonly stage: Arena, private readonly shards: number, private readonly d: number) {
    this.countsAt = stage.heap.alloc(shards * 4);
  }

  split(ids: BigUint64Array): void {
    const n = ids.length, heap = this.stage.heap, d = this.d;
    if (n > this.cap) {
      for (const p of [this.ids, this.slot, this.keys, this.rows, this.hess]) if (p) heap.release(p);
      this.cap = Math.max(n, 2 * this.cap);
      this.ids = heap.alloc(this.cap * 8);
      this.slot = heap.alloc(this.cap * 4);
      this.keys = heap.alloc(this.cap * 8);
      this.rows = heap.alloc(this.cap * d * 4);
      this.hess = 0;
    }
    heap.u64.set(ids, this.ids >>> 3);
    this.stage.kernels.partitionKeys(this.ids, n, this.shards, this.slot, this.countsAt, this.keys);
    const buf = heap.memory.buffer, u = heap.u32;
    let start = 0;
    for (let s = 0; s < this.shards; s++) {
      const c = u[(this.countsAt >>> 2) + s];
      this.starts[s] = start;
      this.counts[s] = c;
      // New views each time: a shard's lookahead is matched by array identity.
      this.subKeys[s] = new BigUint64Array(buf, this.keys + start * 8, c);
      start += c;
    }
    this.subRows = this.views(this.rows);
    this.n = n;
  }

  /** Per shard, a view of its rows in a block of cap rows. */
  views(block: number): Float32Array[] {
    const buf = this.stage.heap.memory.buffer, d = this.d;
    return this.counts.map((c, s) => new Float32Array(buf, block + this.starts[s] * d * 4, c * d));
  }

  /** A block for the Hessian's rows, made on first use. */
  hessianRows(): number {
    if (!this.hess) this.hess = this.stage.heap.alloc(this.cap * this.d * 4);
    return this.hess;
  }
}

/** An embedding table: one {@link SparseTable}, or several behind a {@link ShardedTable}. */
export type EmbeddingTable = SparseTable | ShardedTable;

/** Loads a state saved by either kind of table. */
export function loadTable(bytes: Uint8Array, backend: Backend = "wasm"): EmbeddingTable {
  const { header } = decodeEnvelope(bytes, "table state");
  return header.kind === "sharded-table" ? ShardedTable.load(bytes, backend) : SparseTable.load(bytes, backend);
}
