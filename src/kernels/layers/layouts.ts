/**
 * The memory layouts of the layer kernels' calls: the kernel module's exports,
 * where each call lays out its operands (16-byte aligned parts of a call
 * area, from HEAP_BASE on), and the bytes each needs; the products' work area
 * formula of the kernel module. A layout is made once per call and size and
 * kept (read only): a layer calls the same sizes batch after batch, and a
 * call that allocates nothing spares the scavenges that stall every worker
 * of a data-parallel run at its barriers.
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

// The calls whose layouts are kept, each with up to three sizes.
const MATMUL = 1, CROSS_F = 2, CROSS_B = 3, NET_F = 4, NET_B = 5, LINEAR_RELU_F = 6, LINEAR_RELU_B = 7, DROPOUT_F = 8, DROPOUT_B = 9, OUTER_F = 10, OUTER_B = 11;
/** Layouts kept at most (then all are dropped and made again: sizes that vary call by call cannot fill the memory). */
const MAX_LAYOUTS = 4096;
interface Kept { kind: number; a: number; b: number; c: number; at: readonly number[] }
const kept = new Map<number, Kept>();

/** The layout of call `kind` with sizes a, b, c: the one kept, else make(a, b, c) kept (one per hash of the sizes). */
function layout(kind: number, a: number, b: number, c: number, make: (a: number, b: number, c: number) => number[]): readonly number[] {
  const h = Math.imul(Math.imul(Math.imul(kind, 0x9e3779b1) ^ a, 0x85ebca6b) ^ b, 0xc2b2ae35) ^ c;
  const k = kept.get(h);
  if (k !== undefined && k.kind === kind && k.a === a && k.b === b && k.c === c) return k.at;
  if (kept.size >= MAX_LAYOUTS) kept.clear();
  const at = make(a, b, c);
  kept.set(h, { kind, a, b, c, at });
  return at;
}

/** Memory of a matrix product's call (LayerEngine.run): c [m n] | a [m k] | b [k n] | work of c = a b. */
export function matmulLayout(m: number, k: number, n: number): readonly number[] {
  return layout(MATMUL, m, k, n, makeMatmul);
}
const makeMatmul = (m: number, k: number, n: number): number[] => carve([m * n, m * k, k * n]);

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
export function crossForwardLayout(batch: number, dim: number): readonly number[] {
  return layout(CROSS_F, batch, dim, 0, makeCrossForward);
}
export function crossBackwardLayout(batch: number, dim: number): readonly number[] {
  return layout(CROSS_B, batch, dim, 0, makeCrossBackward);
}
const makeCrossForward = (batch: number, dim: number): number[] => {
  const n = batch * dim;
  return carve([n, n, dim, dim, batch, n]);
};
const makeCrossBackward = (batch: number, dim: number): number[] => {
  const n = batch * dim;
  return carve([n, n, n, batch, dim, n, n, batch, dim, dim]);
};

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
export function crossNetForwardLayout(batch: number, dim: number, count: number): readonly number[] {
  return layout(NET_F, batch, dim, count, makeNetForward);
}
export function crossNetBackwardLayout(batch: number, dim: number, count: number): readonly number[] {
  return layout(NET_B, batch, dim, count, makeNetBackward);
}
const makeNetForward = (batch: number, dim: number, count: number): number[] => {
  const n = batch * dim;
  return carve([n, ...Array<number>(count).fill(n), ...Array<number>(count).fill(batch), ...Array<number>(2 * count).fill(dim)]);
};
const makeNetBackward = (batch: number, dim: number, count: number): number[] => {
  const n = batch * dim;
  return carve([n, n, ...Array<number>(count - 1).fill(n), ...Array<number>(count).fill(batch), ...Array<number>(count).fill(dim), n, n, n, batch, dim, dim, n]);
};

/**
 * Memory of a fused linear + ReLU layer (src/kernels/assembly/relu.ts):
 * forward  y [m n] | x [m k] | w [k n] | b [n] | work of y = x w;
 * backward dz [m n] | y [m n] | x [m k] | w [k n] | dw [k n] | dx [m k] | db [n float64] | work of both products.
 */
export function linearReluLayout(m: number, k: number, n: number, backward: boolean): readonly number[] {
  return backward ? layout(LINEAR_RELU_B, m, k, n, makeLinearReluBackward) : layout(LINEAR_RELU_F, m, k, n, makeLinearRelu);
}
const makeLinearRelu = (m: number, k: number, n: number): number[] => carve([m * n, m * k, k * n, n]);
const makeLinearReluBackward = (m: number, k: number, n: number): number[] => carve([m * n, m * n, m * k, k * n, k * n, m * k, 2 * n]);

/** Memory of a dropout (./dropout.ts), n floats: state [32 words] | x [n] | y [n] | mask [n, or none] | bits [n / 32 words, or none]. */
export function dropoutLayout(n: number, mask: boolean, bits: boolean): readonly number[] {
  return layout(DROPOUT_F, n, mask ? 1 : 0, bits ? 1 : 0, makeDropout);
}
const makeDropout = (n: number, mask: number, bits: number): number[] => carve([32, n, n, mask ? n : 0, bits ? Math.ceil(n / 32) : 0]);
/** Memory of dropout's backward, n floats: bits [n / 32 words] | dy [n] | dx [n]. */
export function dropoutBackwardLayout(n: number): readonly number[] {
  return layout(DROPOUT_B, n, 0, 0, makeDropoutBackward);
}
const makeDropoutBackward = (n: number): number[] => carve([Math.ceil(n / 32), n, n]);

/**
 * Memory of the outer-product layer (./outer-product.ts), fd = batch F d and
 * wd = batch (F d + d(d+1)/2): forward x [fd] | xc [wd] | f [batch d];
 * backward dxc [wd] | f [batch d] | dx [fd] | df [d float64].
 */
export function outerProductLayout(batch: number, fields: number, d: number, backward: boolean): readonly number[] {
  return backward ? layout(OUTER_B, batch, fields, d, makeOuterBackward) : layout(OUTER_F, batch, fields, d, makeOuter);
}
/** The outer-product layer's input and output floats: [batch F d, batch (F d + d(d+1)/2)]. */
export const outerSizes = (batch: number, fields: number, d: number): [number, number] => [batch * fields * d, batch * (fields * d + (d * (d + 1)) / 2)];
const makeOuter = (batch: number, fields: number, d: number): number[] => {
  const [fd, wd] = outerSizes(batch, fields, d);
  return carve([fd, wd, batch * d]);
};
const makeOuterBackward = (batch: number, fields: number, d: number): number[] => {
  const [fd, wd] = outerSizes(batch, fields, d);
  return carve([wd, batch * d, fd, 2 * d]);
};

/** Bytes of kernel memory a fused linear + ReLU step of this size needs. */
export function linearReluBytes(m: number, k: number, n: number): number {
  const f = linearReluLayout(m, k, n, false), b = linearReluLayout(m, k, n, true);
  return Math.max(f[f.length - 1] + matmulWorkBytes(m, k, n), b[b.length - 1] + Math.max(matmulWorkBytes(k, m, n), matmulWorkBytes(m, n, k)));
}
