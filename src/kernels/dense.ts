import { HEAP_BASE } from "./layout.js";
import { wasmExports } from "./wasm.js";

/**
 * The WebAssembly SIMD dense matrix products (src/kernels/assembly/matmul.ts),
 * bit-identical twins of the plain TypeScript ones in src/nn/matmul.ts.
 *
 * One instance of the kernel module, created on first use, with a memory of
 * its own that only grows: the operands are copied in, the product runs, and C
 * is copied out, so callers keep ordinary Float32Arrays. The memory holds, from
 * HEAP_BASE on (every part 16-byte aligned):
 *   C [m x n] | A | B | work area (A and B repacked for the kernel).
 * C comes first so that its view depends only on m * n and can be reused.
 */

/** Which product: a*b ("nn"), transpose(a)*b ("tn", a stored [k x m]), a*transpose(b) ("nt", b stored [n x k]). */
export type DenseLayout = "nn" | "tn" | "nt";

interface DenseExports {
  sgemm(a: number, b: number, c: number, m: number, k: number, n: number, work: number): void;
  sgemmTransA(a: number, b: number, c: number, m: number, k: number, n: number, work: number): void;
  sgemmTransB(a: number, b: number, c: number, m: number, k: number, n: number, work: number): void;
  sgemmWorkBytes(m: number, k: number, n: number): number;
}

const PAGE = 65536;
const MAX_PAGES = 65536; // 4 GiB, the wasm32 limit of one memory
const MAX_BYTES = MAX_PAGES * PAGE;

const align16 = (x: number): number => Math.ceil(x / 16) * 16;

/**
 * Bytes of the work area for an m x k by k x n product: A in panels of 4 rows,
 * B in panels of 8 columns, padded with zeros (the formula of
 * `sgemmWorkBytes` in the kernel module, in float64 so that it cannot wrap).
 */
export function denseWorkBytes(m: number, k: number, n: number): number {
  return Math.ceil(m / 4) * k * 16 + Math.ceil(n / 8) * k * 32;
}

/** Bytes of kernel memory one product needs (up to the end of its work area). */
export function denseBytes(m: number, k: number, n: number): number {
  const pa = align16(HEAP_BASE + m * n * 4), pb = align16(pa + m * k * 4), work = align16(pb + k * n * 4);
  return work + denseWorkBytes(m, k, n);
}

/** True when one product of this size fits in one WebAssembly memory. */
export function denseFits(m: number, k: number, n: number): boolean {
  return denseBytes(m, k, n) <= MAX_BYTES;
}

class DenseEngine {
  readonly memory = new WebAssembly.Memory({ initial: 2, maximum: MAX_PAGES });
  readonly ex: DenseExports;
  private buf: ArrayBuffer;
  private f32: Float32Array;
  /** Views of C (at HEAP_BASE) by length, dropped when the memory grows. */
  private readonly cViews = new Map<number, Float32Array>();

  constructor() {
    this.ex = wasmExports(this.memory) as unknown as DenseExports;
    this.buf = this.memory.buffer;
    this.f32 = new Float32Array(this.buf);
  }

  /** The float view of the whole memory, re-made if the memory grew (growing detaches the old buffer). */
  private floats(): Float32Array {
    if (this.memory.buffer !== this.buf) {
      this.buf = this.memory.buffer;
      this.f32 = new Float32Array(this.buf);
      this.cViews.clear();
    }
    return this.f32;
  }

  private reserve(bytes: number): void {
    const have = this.memory.buffer.byteLength / PAGE, need = Math.ceil(bytes / PAGE);
    if (need <= have) return;
    if (need > MAX_PAGES) {
      throw new RangeError(`dense product needs ${bytes} bytes of WebAssembly memory, the limit is 4 GiB`);
    }
    // At least double, so that a growing batch does not grow the memory on every call.
    this.memory.grow(Math.min(MAX_PAGES, Math.max(need, 2 * have)) - have);
  }

  run(layout: DenseLayout, a: Float32Array, b: Float32Array, out: Float32Array, m: number, k: number, n: number): void {
    const mn = m * n, mk = m * k, kn = k * n;
    const pc = HEAP_BASE;
    const pa = align16(pc + mn * 4);
    const pb = align16(pa + mk * 4);
    const work = align16(pb + kn * 4);
    this.reserve(work + denseWorkBytes(m, k, n));
    const f = this.floats();
    f.set(a.length === mk ? a : a.subarray(0, mk), pa >>> 2);
    f.set(b.length === kn ? b : b.subarray(0, kn), pb >>> 2);
    if (layout === "nn") this.ex.sgemm(pa, pb, pc, m, k, n, work);
    else if (layout === "tn") this.ex.sgemmTransA(pa, pb, pc, m, k, n, work);
    else this.ex.sgemmTransB(pa, pb, pc, m, k, n, work);
    let c = this.cViews.get(mn);
    if (!c) {
      c = new Float32Array(this.buf, pc, mn);
      this.cViews.set(mn, c);
    }
    out.set(c);
  }
}

let engine: DenseEngine | undefined;
let failure: unknown;

function getEngine(): DenseEngine {
  if (engine) return engine;
  if (failure !== undefined) throw failure;
  try {
    engine = new DenseEngine();
  } catch (e) {
    failure = e;
    throw e;
  }
  return engine;
}

/**
 * True when the WebAssembly products can run here (the module loads and
 * instantiates); the first call creates the instance.
 */
export function denseAvailable(): boolean {
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
export function denseMatmul(
  layout: DenseLayout, a: Float32Array, b: Float32Array, out: Float32Array, m: number, k: number, n: number,
): void {
  getEngine().run(layout, a, b, out, m, k, n);
}

/** Bytes of memory the dense kernels hold now (0 before the first product). */
export function denseMemoryBytes(): number {
  return engine ? engine.memory.buffer.byteLength : 0;
}

/** The raw exports, for tests: the work-area formula is checked against the module's. */
export function denseExportsForTest(): DenseExports {
  return getEngine().ex;
}
