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
   * resolve into recs, then deduplication: distinct records to outRecs in order
   * of first appearance, gradient (and Hessian) rows summed in order; returns the distinct count.
   */
  resolveAccumulate(meta: number, ids: number, n: number, recs: number, g: number, h: number, outRecs: number, outG: number, outH: number): number;
  /** Record address of one id, or 0. */
  lookup(meta: number, lo: number, hi: number): number;
  rehash(meta: number, newSlots: number, newCap: number): void;
  keysInRowOrder(meta: number, out: number): void;
  gather(recs: number, n: number, d: number, out: number): void;
  /** Index of the first non-finite float of n at p, or -1. */
  findNonFinite(p: number, n: number): number;
}

/** Which implementation of the kernels to run. */
export type Backend = "wasm" | "ts";
