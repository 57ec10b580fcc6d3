/**
 * The hot loops, as one interface with two implementations over the same memory
 * layout: WebAssembly SIMD (src/kernels/assembly) and plain TypeScript
 * (src/kernels/ts). Addresses are byte offsets into the arena's memory.
 */
export interface Kernels {
  /** Steps rows 0..rows-1 of a dense parameter; returns the change in live rows. */
  updateDense(params: number, xBase: number, sBase: number, sStride: number, g: number, h: number, rows: number): number;
  /** Steps n fused records listed (u32 addresses) at recs; returns the change in live rows. */
  updateSparse(params: number, recs: number, n: number, g: number, h: number): number;
  /** Finds or creates the rows of n u64 ids; writes their record addresses to out. */
  resolve(meta: number, ids: number, n: number, out: number): void;
  /**
   * A batch's lookup: deduplicates n ids through a per-batch hash tab (u32
   * entries, all zero on entry and left zero, room for the smallest power of
   * two >= max(2n, 16)), writing each position's distinct slot to inverse (n
   * u32), then finds or creates the distinct ids' rows in order of first
   * appearance; writes their records (u32) to outRecs (room for n u64) and
   * returns their count. hashes: scratch n u32. With g != 0 it first sums
   * the gradient (and Hessian, h != 0) rows of d floats into outG (outH) as
   * accumulateInverse does, and returns -1 without touching the index when a
   * sum is not finite.
   */
  dedupResolve(
    meta: number, ids: number, n: number, hashes: number, inverse: number, outRecs: number, tab: number,
    g: number, h: number, d: number, outG: number, outH: number,
  ): number;
  /**
   * dedupResolve without writing the table (safe on another thread while the
   * index does not change): distinct keys (u64) to keys, each one's record or
   * 0 when absent to outRecs, and with init != 0 (n x d floats) the initial
   * weights of the absent ones at their slots; returns the distinct count.
   */
  dedupLookup(meta: number, ids: number, n: number, hashes: number, inverse: number, outRecs: number, keys: number, tab: number, init: number): number;
  /** After dedupLookup: creates the rows of the keys whose record is 0, in order (weights from init when not 0); returns how many. */
  createMissing(meta: number, hashes: number, keys: number, recs: number, count: number, init: number): number;
  /** Sums the gradient (and Hessian) rows of n positions into their distinct rows, in order of appearance. */
  accumulateInverse(inverse: number, n: number, g: number, h: number, d: number, outG: number, outH: number, u: number): void;
  /** out[i] = weights of recs[inverse[i]] (n x d floats); recs holds u distinct records. */
  gatherInverse(recs: number, inverse: number, n: number, d: number, out: number, u: number): void;
  /** Record address of one id, or 0. */
  lookup(meta: number, lo: number, hi: number): number;
  rehash(meta: number, newSlots: number, newCap: number): void;
  keysInRowOrder(meta: number, out: number): void;
  gather(recs: number, n: number, d: number, out: number): void;
  /** Weights of n u64 ids, zeros for ids without a row (none created); returns the absent count. Scratch as dedupResolve's: hashes and inverse n u32, recs n u64, tab. */
  gatherExisting(meta: number, ids: number, n: number, out: number, hashes: number, inverse: number, recs: number, tab: number): number;
  /**
   * Splits n u64 ids over `shards` (the mix of ShardedTable.shardOf): per
   * shard its ids in batch order, one block after another in keys; slot[i]
   * (u32) is where id i went; counts (u32 per shard) the block sizes.
   */
  partitionKeys(ids: number, n: number, shards: number, slot: number, counts: number, keys: number): void;
  /** out row i = src row slot[i], n rows of d 32-bit words. */
  gatherSlots(src: number, slot: number, n: number, d: number, out: number): void;
  /** out row slot[i] = src row i, n rows of d 32-bit words. */
  scatterSlots(src: number, slot: number, n: number, d: number, out: number): void;
  /** Index of the first non-finite float of n at p, or -1. */
  findNonFinite(p: number, n: number): number;
  /** dst[i] = float32(dst[i] + src[i] * w) for n floats, the arithmetic in float64 (as `dst[i] += src[i] * w` on a Float32Array). */
  addScaled(dst: number, src: number, n: number, w: number): void;
  /** dst[i] = float32(dst[i] * w) for n floats, the product in float64. */
  scaleBy(dst: number, n: number, w: number): void;
}

/** Which implementation of the kernels to run. */
export type Backend = "wasm" | "ts";
