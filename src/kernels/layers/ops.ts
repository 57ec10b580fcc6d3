/**
 * The layer kernels' public operations (matrix products, cross layers,
 * linear + ReLU, dropout, outer products) over one engine made on first use,
 * its settings (threads, fused multiply-adds) and the buffers that live in
 * its memory.
 */
import { relaxedSimdAvailable } from "./module.js";
import { availableParallelism } from "node:os";
import { LayerEngine, SPLIT_MIN, type LayerKernelOptions } from "./engine.js";
import { crossBackward, crossForward, crossNetBackward, crossNetForward } from "./cross.js";
import { dropout, dropoutBackward } from "./dropout.js";
import { linearReluBackward, linearReluForward } from "./linear-relu.js";
import { outerProductBackward, outerProductForward } from "./outer-product.js";
import type { CrossNetLayer, LayerExports, MatmulLayout } from "./layouts.js";

/**
 * A fully connected layer followed by a ReLU, forward, in WebAssembly SIMD:
 * y = relu(x w + b) with the float32 contract of src/nn/linear-relu.ts (same
 * bits as its TypeScript path).
 */
export function layerLinearReluForward(x: Float32Array, w: Float32Array, b: Float32Array, y: Float32Array, m: number, k: number, n: number): void {
  linearReluForward(getEngine(), x, w, b, y, m, k, n);
}

/** Its backward: dz = y > 0 ? dy : 0, dw = x^T dz, db = column sums of dz (float64, then rounded), dx = dz w^T. */
export function layerLinearReluBackward(
  dy: Float32Array, y: Float32Array, x: Float32Array, w: Float32Array,
  dw: Float32Array, db: Float32Array, dx: Float32Array, m: number, k: number, n: number,
): void {
  linearReluBackward(getEngine(), dy, y, x, w, dw, db, dx, m, k, n);
}

let options: LayerKernelOptions = { threads: 1, fma: false, splitMin: SPLIT_MIN };
let engine: LayerEngine | undefined;
let failure: unknown;

/**
 * Sets how the layer kernels run from the next product on (the kernel memory
 * is dropped and made again when a setting changes).
 * - `threads: 2` splits each large matrix product by rows of its output
 *   between the calling thread and a helper thread over one shared memory.
 *   Every output element is computed exactly as on one thread, so the model
 *   is the same bit for bit. Capped at the machine's cores.
 * - `fma: true` uses fused multiply-adds (WebAssembly relaxed SIMD; Node 20
 *   has it behind a V8 flag, which this turns on). Products round once per
 *   multiply-add instead of twice: deterministic on one machine, but no
 *   longer the bits of the TypeScript reference kernels. Throws where the
 *   runtime cannot compile relaxed SIMD.
 * Returns the settings now in force.
 */
export function configureLayers(next: Partial<LayerKernelOptions>): LayerKernelOptions {
  const threads = next.threads ?? options.threads, fma = next.fma ?? options.fma, splitMin = next.splitMin ?? options.splitMin;
  if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`layer kernel threads must be a positive integer, got ${threads}`);
  if (!(splitMin >= 0)) throw new RangeError(`layer kernel splitMin must be a non-negative number, got ${splitMin}`);
  if (fma && !relaxedSimdAvailable()) {
    throw new Error("fused multiply-add needs WebAssembly relaxed SIMD, which this runtime cannot compile");
  }
  const want: LayerKernelOptions = { threads: Math.min(2, threads, availableParallelism()), fma, splitMin };
  if (want.threads !== options.threads || want.fma !== options.fma) {
    engine?.close();
    engine = undefined;
    failure = undefined;
  }
  options = want;
  if (engine) engine.splitMin = want.splitMin;
  return { ...options };
}

function getEngine(): LayerEngine {
  if (engine) return engine;
  if (failure !== undefined) throw failure;
  try {
    engine = new LayerEngine(options);
  } catch (e) {
    failure = e;
    throw e;
  }
  return engine;
}

/**
 * Resolves once the layer kernels are running with their settings: with
 * `threads: 2`, once the helper thread has started. Until then products run
 * whole on the calling thread (the same results, only slower), so waiting is
 * optional; benchmarks and tests wait.
 */
export async function layersReady(): Promise<LayerKernelOptions> {
  await getEngine().started();
  return { ...options };
}

/**
 * True when the WebAssembly products can run here (the module loads and
 * instantiates); the first call creates the instance.
 */
export function layersAvailable(): boolean {
  if (engine) return true;
  if (failure !== undefined) return false;
  try {
    getEngine();
    return true;
  } catch {
    return false;
  }
}

/**
 * out[m x n] = op(a) * op(b) in WebAssembly SIMD, with the float32 contract of
 * src/nn/matmul.ts (same bits as the TypeScript kernels). The arrays must hold
 * at least m*k, k*n and m*n floats; only those are read or written.
 */
export function layerMatmul(
  layout: MatmulLayout, a: Float32Array, b: Float32Array, out: Float32Array, m: number, k: number, n: number,
): void {
  getEngine().run(layout, a, b, out, m, k, n);
}

/**
 * The DCN cross layer's forward in WebAssembly SIMD: s[batch] = xl * w (the
 * product of {@link layerMatmul}) and y = x0 * s + b + xl, with the float32
 * contract of src/nn/cross.ts (same bits as its TypeScript loops). x0, xl, y
 * hold at least batch * d floats, w and b d, s batch.
 */
export function layerCrossForward(
  x0: Float32Array, xl: Float32Array, w: Float32Array, b: Float32Array,
  s: Float32Array, y: Float32Array, batch: number, d: number,
): void {
  crossForward(getEngine(), x0, xl, w, b, s, y, batch, d);
}

/**
 * The DCN cross layer's backward in WebAssembly SIMD: ds = row dot products of
 * dy and x0, dx0 = dy * s, dxl = dy + ds * w, db = column sums of dy and
 * dw = transpose(xl) * ds, with the float32 contract of src/nn/cross.ts.
 */
export function layerCrossBackward(
  dy: Float32Array, x0: Float32Array, xl: Float32Array, s: Float32Array, w: Float32Array,
  dx0: Float32Array, dxl: Float32Array, ds: Float32Array, db: Float32Array, dw: Float32Array, batch: number, d: number,
): void {
  crossBackward(getEngine(), dy, x0, xl, s, w, dx0, dxl, ds, db, dw, batch, d);
}

/**
 * A whole cross network's forward in WebAssembly SIMD, x0 copied in once:
 * for each layer l (x_0 = x0), s_l = x_l . w_l and x_{l+1} = x0 * s_l + b_l + x_l,
 * with the float32 contract of src/nn/cross.ts (the bits of its layers one
 * by one). Writes each layer's s and y.
 */
export function layerCrossNetForward(x0: Float32Array, layers: readonly CrossNetLayer[], batch: number, d: number): void {
  crossNetForward(getEngine(), x0, layers, batch, d);
}

/**
 * The whole network's backward from the gradient dy of its output: each
 * layer's dw and db, and into `out` the gradient of x0, (the sum over the
 * layers, last to first, of dx0 plus, at the first layer, its dxl) + addend,
 * as src/nn/cross.ts adds them. Each layer's s and y must hold its forward's.
 */
export function layerCrossNetBackward(
  dy: Float32Array, x0: Float32Array, layers: readonly CrossNetLayer[], out: Float32Array, addend: Float32Array | undefined,
  batch: number, d: number,
): void {
  crossNetBackward(getEngine(), dy, x0, layers, out, addend, batch, d);
}

/**
 * Dropout from the eight interleaved xoshiro128** generators whose state
 * (32 u32) is `state`, in WebAssembly: the numbers and bits of
 * MaskStream.dropoutTs (src/nn/mask-stream.ts), and `state` advanced as it
 * would be. threshold < 2^32. The mask goes to
 * `mask` (floats) and to `bits` (bit i % 32 of word i / 32 set where the unit
 * is kept, for layerDropoutBackward), either when not null.
 */
export function layerDropout(
  state: Uint32Array, x: Float32Array, y: Float32Array, mask: Float32Array | null, bits: Uint32Array | null,
  n: number, threshold: number, keep: number,
): void {
  dropout(getEngine(), state, x, y, mask, bits, n, threshold, keep);
}

/**
 * OPNN's product layer input, in WebAssembly: for each of `batch` rows of x
 * (fields x d), f = the sum over fields and xc = [x row | q], q the upper
 * triangle of f f^T (row by row); the same bits as the TypeScript loops of
 * src/nn/product.ts.
 */
export function layerOuterProductForward(x: Float32Array, xc: Float32Array, f: Float32Array, batch: number, fields: number, d: number): void {
  outerProductForward(getEngine(), x, xc, f, batch, fields, d);
}

/**
 * The product layer's input gradient from the stacked input's gradient dxc
 * and f (see {@link layerOuterProductForward}), in WebAssembly: the same bits
 * as the TypeScript loops of src/nn/product.ts.
 */
export function layerOuterProductBackward(dxc: Float32Array, f: Float32Array, dx: Float32Array, batch: number, fields: number, d: number): void {
  outerProductBackward(getEngine(), dxc, f, dx, batch, fields, d);
}

/** dx = dy * mask, the mask given as the bits of a layerDropout call: the bits of the float mask's product. */
export function layerDropoutBackward(bits: Uint32Array, dy: Float32Array, dx: Float32Array, n: number, keep: number): void {
  dropoutBackward(getEngine(), bits, dy, dx, n, keep);
}

/**
 * Marks a phase of many products, such as a training step's forward and
 * backward: with two threads the helper then waits for work spinning instead
 * of sleeping (at most 20 ms without work), which makes splitting the small
 * products of CTR models pay, as long as split products take a good share
 * of such phases; otherwise the phase's products run whole and the helper
 * sleeps (see SPIN_SHARE). Call with false when the
 * phase ends (the sparse table work follows), so that the helper does not
 * hold a core meanwhile. Optional: without it the helper sleeps between
 * products.
 */
export function layersActive(on: boolean): void {
  engine?.active(on);
}

/**
 * True while the phases' products are split between the two threads (see
 * {@link layersActive}): the second core is then busy with products.
 */
export function layersSplitting(): boolean {
  return engine?.splitting ?? false;
}

/**
 * A zero-filled Float32Array of n floats for activations and gradients: it
 * lives in the layer kernels' shared memory, where they read and write it in
 * place instead of copying it in and out (the same bits either way); before
 * the kernels run (see layersReady), an ordinary array. Never freed while the
 * kernels' settings stay; arrays made before a settings change still work,
 * copied like any other.
 */
export function layerBuffer(n: number): Float32Array {
  return engine ? engine.buffer(n) : new Float32Array(n);
}

/**
 * Frees an array that {@link layerBuffer} returned (whole), for reuse; it must
 * not be used after. Any other array is ignored, as are arrays of kernels
 * replaced since (their memory goes with them).
 */
export function layerRelease(a: Float32Array): void {
  engine?.release(a);
}

/** Bytes the layer kernels copied into and out of their memory since the settings last changed. */
export function layerCopiedBytes(): number {
  return engine ? engine.copiedBytes : 0;
}

/** Products split between two threads since the settings last changed (0 on one thread). */
export function layerSplitProducts(): number {
  return engine ? engine.splitProducts : 0;
}

/** Rows of split products that the current engine's helper thread computed (0 without one). */
export function layerHelperRows(): number {
  return engine?.helperRows ?? 0;
}

/** Bytes of memory the layer kernels hold now (0 before the first product). */
export function layerMemoryBytes(): number {
  return engine ? engine.memoryBytes : 0;
}

/** The raw exports, for tests: the work-area formula is checked against the module's. */
export function layerExportsForTest(): LayerExports {
  return getEngine().ex;
}
