/**
 * The memory layouts of the layer kernels' calls: the kernel module's exports,
 * where each call lays out its operands (16-byte aligned parts of a call
 * area, from HEAP_BASE on), and the bytes each needs; the products' work area
 * formula of the kernel module.
 */
import { HEAP_BASE } from "../layout.js";

/** Which product: a*b ("nn"), transpose(a)*b ("tn", a stored [k x m]), a*transpose(b) ("nt", b stored [n x k]). */
export type MatmulLayout = "nn" | "tn" | "nt";

/** The layer module's function exports (generated from the compiler's declarations). */
export type { LayerModule as LayerExports } from "../generated/layer-exports.js";

export const PAGE = 65536;
export const MAX_PAGES = 65536; // 4 GiB, the wasm32 limit of one memory
export const MAX_BYTES = MAX_PAGES * PAGE;

const align16 = (x: number): number => Math.ceil(x / 16) * 16;

/**
 * Bytes of the work area for an m x k by k x n product: A in panels of 4 rows,
 * B in panels of 8 columns, twice (one copy per thread of a split product), padded with zeros (the formula of
 * `sgemmWorkBytes` in the kernel module, in float64 so that it cannot wrap).
 */
export function matmulWorkBytes(m: number, k: number, n: number): number {
  return Math.ceil(m / 4) * k * 16 + 2 * Math.ceil(n / 8) * k * 32;
}

/** Bytes of kernel memory one product needs (up to the end of its work area). */
export function matmulBytes(m: number, k: number, n: number): number {
  const pa = align16(HEAP_BASE + m * n * 4), pb = align16(pa + m * k * 4), work = align16(pb + k * n * 4);
  return work + matmulWorkBytes(m, k, n);
}

/** True when one product of this size fits in one WebAssembly memory. */
export function matmulFits(m: number, k: number, n: number): boolean {
  return matmulBytes(m, k, n) <= MAX_BYTES;
}

/**
 * Byte offsets of consecutive 16-byte aligned arrays of the given float
 * counts from HEAP_BASE on (the call area's start in a memory of its own; see
 * LayerEngine.place); one more entry at the end: where the next would start.
 */
export function carve(floats: readonly number[]): number[] {
  const at = [HEAP_BASE];
  for (const f of floats) at.push(align16(at[at.length - 1] + f * 4));
  return at;
}

/**
 * Memory of one cross-layer call (src/kernels/assembly/cross.ts), n = batch * dim:
 * forward  x0 [n] | xl [n] | w [dim] | b [dim] | s [batch] | y [n] | work area of s = xl * w;
 * backward dy [n] | x0 [n] | xl [n] | s [batch] | w [dim] | dx0 [n] | dxl [n] | ds [batch] | db [dim] | dw [dim].
 */
export function crossForwardLayout(batch: number, dim: number): number[] {
  const n = batch * dim;
  return carve([n, n, dim, dim, batch, n]);
}
export function crossBackwardLayout(batch: number, dim: number): number[] {
  const n = batch * dim;
  return carve([n, n, n, batch, dim, n, n, batch, dim, dim]);
}

/** Bytes of kernel memory a cross-layer forward or backward of this size needs. */
export function crossBytes(batch: number, dim: number): number {
  const f = crossForwardLayout(batch, dim), b = crossBackwardLayout(batch, dim);
  return Math.max(f[f.length - 1] + matmulWorkBytes(batch, dim, 1), b[b.length - 1]);
}

/** True when a whole cross network of this size runs in one WebAssembly memory. */
export function crossNetFits(batch: number, dim: number, count: number): boolean {
  const f = crossNetForwardLayout(batch, dim, count), b = crossNetBackwardLayout(batch, dim, count);
  return Math.max(f[f.length - 1] + matmulWorkBytes(batch, dim, 1), b[b.length - 1]) <= MAX_BYTES;
}

/** True when a cross-layer step of this size fits in one WebAssembly memory. */
export function crossFits(batch: number, dim: number): boolean {
  return crossBytes(batch, dim) <= MAX_BYTES;
}

/** One layer of a cross network as {@link layerCrossNetForward} and {@link layerCrossNetBackward} see it. */
export interface CrossNetLayer {
  /** Its parameters (dim floats each). */
  w: Float32Array;
  b: Float32Array;
  /** Forward outputs, kept for backward: s = x_l . w (batch floats) and y = x_{l+1} (batch * dim). */
  s: Float32Array;
  y: Float32Array;
  /** Backward outputs: the parameters' gradients (dim floats each). */
  dw: Float32Array;
  db: Float32Array;
}

/**
 * Memory of a whole cross network of `count` layers, n = batch * dim:
 * forward  x0 [n] | x_1 .. x_count [n each] | s_0 .. [batch each] | w_0 .. [dim each] | b_0 .. [dim each] | work of s = x_l w;
 * backward dy [n] | x0 [n] | x_1 .. x_{count-1} [n each] | s_0 .. | w_0 .. | addend [n] | g0 [n] | g1 [n] | ds [batch] | db [dim] | dw [dim] | acc [n].
 */
export function crossNetForwardLayout(batch: number, dim: number, count: number): number[] {
  const n = batch * dim;
  return carve([n, ...Array<number>(count).fill(n), ...Array<number>(count).fill(batch), ...Array<number>(2 * count).fill(dim)]);
}
export function crossNetBackwardLayout(batch: number, dim: number, count: number): number[] {
  const n = batch * dim;
  return carve([n, n, ...Array<number>(count - 1).fill(n), ...Array<number>(count).fill(batch), ...Array<number>(count).fill(dim), n, n, n, batch, dim, dim, n]);
}

/**
 * Memory of a fused linear + ReLU layer (src/kernels/assembly/relu.ts):
 * forward  y [m n] | x [m k] | w [k n] | b [n] | work of y = x w;
 * backward dz [m n] | y [m n] | x [m k] | w [k n] | dw [k n] | dx [m k] | db [n float64] | work of both products.
 */
export function linearReluLayout(m: number, k: number, n: number, backward: boolean): number[] {
  return backward ? carve([m * n, m * n, m * k, k * n, k * n, m * k, 2 * n]) : carve([m * n, m * k, k * n, n]);
}

/** Bytes of kernel memory a fused linear + ReLU step of this size needs. */
export function linearReluBytes(m: number, k: number, n: number): number {
  const f = linearReluLayout(m, k, n, false), b = linearReluLayout(m, k, n, true);
  return Math.max(f[f.length - 1] + matmulWorkBytes(m, k, n), b[b.length - 1] + Math.max(matmulWorkBytes(k, m, n), matmulWorkBytes(m, n, k)));
}
