import { availableParallelism } from "node:os";
import { performance } from "node:perf_hooks";
import { DenseHelper } from "./dense-helper.js";
import { SplitPlanner } from "./dense-split.js";
import { denseImports, denseModule, relaxedSimdAvailable } from "./dense-module.js";
import { HEAP_BASE } from "./layout.js";

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
  sgemmRows(layout: number, a: number, b: number, c: number, m: number, k: number, n: number, i0: number, i1: number, work: number, copy: number): void;
  crossForward(x0: number, xl: number, s: number, b: number, y: number, batch: number, d: number): void;
  crossBackward(
    dy: number, x0: number, s: number, w: number, dx0: number, dxl: number, ds: number, db: number, batch: number, d: number,
  ): void;
  crossAccumulate(acc: number, dx0: number, dxl: number, n: number, first: number, last: number): void;
  biasRelu(c: number, b: number, m: number, n: number): void;
  reluBackward(dy: number, y: number, db: number, m: number, n: number): void;
  dropout(st: number, x: number, y: number, mask: number, bits: number, n: number, threshold: number, keep: number): void;
  dropoutBackward(bits: number, dy: number, dx: number, n: number, keep: number): void;
}

const PAGE = 65536;
const MAX_PAGES = 65536; // 4 GiB, the wasm32 limit of one memory
const MAX_BYTES = MAX_PAGES * PAGE;

const align16 = (x: number): number => Math.ceil(x / 16) * 16;

/**
 * Bytes of the work area for an m x k by k x n product: A in panels of 4 rows,
 * B in panels of 8 columns, twice (one copy per thread of a split product), padded with zeros (the formula of
 * `sgemmWorkBytes` in the kernel module, in float64 so that it cannot wrap).
 */
export function denseWorkBytes(m: number, k: number, n: number): number {
  return Math.ceil(m / 4) * k * 16 + 2 * Math.ceil(n / 8) * k * 32;
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

/**
 * Byte offsets of consecutive 16-byte aligned arrays of the given float
 * counts from HEAP_BASE on; one more entry at the end: where the next would start.
 */
function carve(floats: readonly number[]): number[] {
  const at = [HEAP_BASE];
  for (const f of floats) at.push(align16(at[at.length - 1] + f * 4));
  return at;
}

/**
 * Memory of one cross-layer call (src/kernels/assembly/cross.ts), n = batch * dim:
 * forward  x0 [n] | xl [n] | w [dim] | b [dim] | s [batch] | y [n] | work area of s = xl * w;
 * backward dy [n] | x0 [n] | xl [n] | s [batch] | w [dim] | dx0 [n] | dxl [n] | ds [batch] | db [dim] | dw [dim].
 */
function crossForwardLayout(batch: number, dim: number): number[] {
  const n = batch * dim;
  return carve([n, n, dim, dim, batch, n]);
}
function crossBackwardLayout(batch: number, dim: number): number[] {
  const n = batch * dim;
  return carve([n, n, n, batch, dim, n, n, batch, dim, dim]);
}

/** Bytes of kernel memory a cross-layer forward or backward of this size needs. */
export function crossBytes(batch: number, dim: number): number {
  const f = crossForwardLayout(batch, dim), b = crossBackwardLayout(batch, dim);
  return Math.max(f[f.length - 1] + denseWorkBytes(batch, dim, 1), b[b.length - 1]);
}

/** True when a whole cross network of this size runs in one WebAssembly memory. */
export function crossNetFits(batch: number, dim: number, count: number): boolean {
  const f = crossNetForwardLayout(batch, dim, count), b = crossNetBackwardLayout(batch, dim, count);
  return Math.max(f[f.length - 1] + denseWorkBytes(batch, dim, 1), b[b.length - 1]) <= MAX_BYTES;
}

/** True when a cross-layer step of this size fits in one WebAssembly memory. */
export function crossFits(batch: number, dim: number): boolean {
  return crossBytes(batch, dim) <= MAX_BYTES;
}

/** One layer of a cross network as {@link denseCrossNetForward} and {@link denseCrossNetBackward} see it. */
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
 * backward dy [n] | x0 [n] | x_1 .. x_{count-1} [n each] | s_0 .. | w_0 .. | dx0 [n] | g0 [n] | g1 [n] | ds [batch] | db [dim] | dw [dim] | acc [n].
 */
function crossNetForwardLayout(batch: number, dim: number, count: number): number[] {
  const n = batch * dim;
  return carve([n, ...Array<number>(count).fill(n), ...Array<number>(count).fill(batch), ...Array<number>(2 * count).fill(dim)]);
}
function crossNetBackwardLayout(batch: number, dim: number, count: number): number[] {
  const n = batch * dim;
  return carve([n, n, ...Array<number>(count - 1).fill(n), ...Array<number>(count).fill(batch), ...Array<number>(count).fill(dim), n, n, n, batch, dim, dim, n]);
}

/** Products smaller than this (m * k * n multiply-adds) run on one thread: the hand-over costs more. */
const SPLIT_MIN = 1 << 20;
/**
 * An active phase uses the shared memory and the spinning helper while split
 * products take at least this share of such phases on average: opnn's take
 * about 60%, dcn's and mlp's under 25% (and dcn trained at 104-113k rows/s
 * with its products whole in the ordinary memory and the helper asleep,
 * against 80-88k before).
 */
const SPIN_SHARE = 0.35;

const LAYOUT_CODE: Record<DenseLayout, number> = { nn: 0, tn: 1, nt: 2 };

/** One memory with its instance of the dense module, and views of it. */
class Space {
  readonly ex: DenseExports;
  f32: Float32Array;
  /** Views of C (at HEAP_BASE) by length, dropped when the memory grows. */
  readonly cViews = new Map<number, Float32Array>();

  constructor(readonly memory: WebAssembly.Memory, module: WebAssembly.Module) {
    this.ex = new WebAssembly.Instance(module, denseImports(memory)).exports as unknown as DenseExports;
    this.f32 = new Float32Array(memory.buffer);
  }
}

/** With two threads, a phase of only whole products still uses the shared memory once in this many phases, to measure splitting again. */
const PROBE_PHASES = 16;

class DenseEngine {
  private readonly helper: DenseHelper | undefined;
  /**
   * Where the kernels run: an ordinary memory (its copies from JavaScript
   * are faster) and, with two threads, a shared one the helper works in too.
   * Each call copies its operands in and its results out, so a call may use
   * either: the same bits. `space` is the current one (see active).
   */
  private readonly local: Space;
  private readonly shared: Space | undefined;
  private space: Space;
  /** Products split between the threads so far (for tests and benchmarks). */
  splitProducts = 0;
  /**
   * The active phase: when it began and the wall time of its split products;
   * the moving average of the share of split products in the phases that
   * could split (1 until measured); phases so far (see active).
   */
  private phaseT0 = 0;
  private phaseSplitMs = 0;
  private splitShare = 1;
  private phases = 0;
  private readonly planner = new SplitPlanner();

  constructor(settings: Readonly<DenseOptions>) {
    this.local = new Space(new WebAssembly.Memory({ initial: 2, maximum: MAX_PAGES }), denseModule(settings.fma, false));
    if (settings.threads > 1) {
      const module = denseModule(settings.fma, true), memory = new WebAssembly.Memory({ initial: 2, maximum: MAX_PAGES, shared: true });
      this.shared = new Space(memory, module);
      this.helper = new DenseHelper(module, memory);
    }
    this.space = this.shared ?? this.local;
  }

  /** The current space's kernels (see space). */
  get ex(): DenseExports {
    return this.space.ex;
  }

  /** Bytes of the memories. */
  get memoryBytes(): number {
    return this.local.memory.buffer.byteLength + (this.shared?.memory.buffer.byteLength ?? 0);
  }

  /** The float view of the whole memory (re-made by `reserve` when the memory grows). */
  private floats(): Float32Array {
    return this.space.f32;
  }

  /** For the layer kernels: make the memory at least this big. */
  reserveBytes(bytes: number): void {
    this.reserve(bytes);
  }

  /** For the layer kernels: the float view of the whole memory (valid until it grows). */
  view(): Float32Array {
    return this.floats();
  }

  private reserve(bytes: number): void {
    const sp = this.space;
    const have = sp.f32.byteLength / PAGE, need = Math.ceil(bytes / PAGE);
    if (need <= have) return;
    if (need > MAX_PAGES) {
      throw new RangeError(`dense product needs ${bytes} bytes of WebAssembly memory, the limit is 4 GiB`);
    }
    // At least double, so that a growing batch does not grow the memory on every call.
    sp.memory.grow(Math.min(MAX_PAGES, Math.max(need, 2 * have)) - have);
    // Growing detaches an ordinary memory's buffer and leaves a shared one's short: new views either way.
    sp.f32 = new Float32Array(sp.memory.buffer);
    sp.cViews.clear();
  }

  /** Resolves once the helper thread runs (at once without one); rejects if it failed to start. */
  async started(): Promise<void> {
    while (this.helper && !this.helper.ready) {
      this.helper.check();
      await new Promise((r) => setTimeout(r, 1));
    }
  }

  /** See {@link denseActive}. */
  active(on: boolean): void {
    if (this.helper?.ready !== true || !this.shared) return;
    const now = performance.now();
    if (!on) {
      if (this.space === this.shared) {
        this.helper.active(false);
        // A moving average, so that one phase in which the helper was slow to
        // run does not send a model of large products to one thread.
        this.splitShare = 0.75 * this.splitShare + 0.25 * (this.phaseSplitMs / Math.max(1e-6, now - this.phaseT0));
      }
      this.space = this.shared;
      return;
    }
    // A phase uses the shared memory and the helper, spinning, only when
    // split products took a good share of the recent such phases
    // (SPIN_SHARE), or to measure that again (every PROBE_PHASES).
    // Otherwise its products run whole in the ordinary memory, whose copies
    // are faster, and the helper sleeps: in a phase of small products a
    // spinning helper takes the core the reader and lookahead threads need,
    // and a split that has to wake it costs more than it saves.
    this.phases++;
    this.phaseT0 = now;
    this.phaseSplitMs = 0;
    if (this.splitShare >= SPIN_SHARE || this.phases % PROBE_PHASES === 0) {
      this.space = this.shared;
      this.helper.active(true);
    } else {
      this.space = this.local;
    }
  }

  /** Stops the helper thread. */
  close(): void {
    this.helper?.close();
  }

  /**
   * c = op(a) * op(b) on operands already in the memory, with the work area at
   * `work`. Large products (m > 1, n > 1) may be split by rows of C between
   * this thread and the helper: the same bits as one call, whatever the split
   * (see matmul.ts), so {@link SplitPlanner} decides from timings.
   */
  product(layout: DenseLayout, a: number, b: number, c: number, m: number, k: number, n: number, work: number): void {
    const code = LAYOUT_CODE[layout];
    const h = this.helper;
    if (h?.ready === true && this.space === this.shared && m >= 8 && n > 1 && m * k * n >= options.splitMin) {
      const plan = this.planner, slot = plan.slot(code, m, k, n), t0 = performance.now();
      if (plan.split(slot)) {
        const mid = plan.mid(slot);
        h.start(code, a, b, c, m, k, n, mid, m, work);
        this.ex.sgemmRows(code, a, b, c, m, k, n, 0, mid, work, 0);
        const helperFirst = h.done;
        h.finish();
        const ms = performance.now() - t0;
        plan.splitDone(slot, ms, helperFirst);
        this.phaseSplitMs += ms;
        this.splitProducts++;
      } else {
        this.whole(code, a, b, c, m, k, n, work);
        plan.wholeDone(slot, performance.now() - t0);
      }
      return;
    }
    this.whole(code, a, b, c, m, k, n, work);
  }

  private whole(code: number, a: number, b: number, c: number, m: number, k: number, n: number, work: number): void {
    if (code === 0) this.ex.sgemm(a, b, c, m, k, n, work);
    else if (code === 1) this.ex.sgemmTransA(a, b, c, m, k, n, work);
    else this.ex.sgemmTransB(a, b, c, m, k, n, work);
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
    this.product(layout, pa, pb, pc, m, k, n, work);
    const views = this.space.cViews;
    let c = views.get(mn);
    if (!c) {
      c = new Float32Array(this.space.f32.buffer, pc, mn);
      views.set(mn, c);
    }
    out.set(c);
  }

  /** Copies n floats of a into the memory at byte offset p. */
  private put(f: Float32Array, a: Float32Array, p: number, n: number): void {
    f.set(a.length === n ? a : a.subarray(0, n), p >>> 2);
  }

  /** Copies n floats at byte offset p out of the memory into out. */
  private get(f: Float32Array, out: Float32Array, p: number, n: number): void {
    out.set(f.subarray(p >>> 2, (p >>> 2) + n));
  }

  crossForward(
    x0: Float32Array, xl: Float32Array, w: Float32Array, b: Float32Array,
    s: Float32Array, y: Float32Array, batch: number, d: number,
  ): void {
    const n = batch * d;
    const [px0, pxl0, pw, pb, ps, py, work] = crossForwardLayout(batch, d);
    this.reserve(work + denseWorkBytes(batch, d, 1));
    const f = this.floats();
    this.put(f, x0, px0, n);
    // The first layer has x_l = x0: one copy serves both.
    const pxl = xl === x0 ? px0 : pxl0;
    if (pxl !== px0) this.put(f, xl, pxl, n);
    this.put(f, w, pw, d);
    this.put(f, b, pb, d);
    this.ex.sgemm(pxl, pw, ps, batch, d, 1, work);
    this.ex.crossForward(px0, pxl, ps, pb, py, batch, d);
    this.get(f, s, ps, batch);
    this.get(f, y, py, n);
  }

  /** One cross layer's backward loops and dw = transpose(xl) * ds; dx0, dxl, ds, db, dw copied out. */
  crossBackward(
    dy: Float32Array, x0: Float32Array, xl: Float32Array, s: Float32Array, w: Float32Array,
    dx0: Float32Array, dxl: Float32Array, ds: Float32Array, db: Float32Array, dw: Float32Array, batch: number, d: number,
  ): void {
    const n = batch * d;
    const [pdy, px0, pxl0, ps, pw, pdx0, pdxl, pds, pdb, pdw, end] = crossBackwardLayout(batch, d);
    this.reserve(end);
    const f = this.floats();
    this.put(f, dy, pdy, n);
    this.put(f, x0, px0, n);
    const pxl = xl === x0 ? px0 : pxl0;
    if (pxl !== px0) this.put(f, xl, pxl, n);
    this.put(f, s, ps, batch);
    this.put(f, w, pw, d);
    this.ex.crossBackward(pdy, px0, ps, pw, pdx0, pdxl, pds, pdb, batch, d);
    // dw = transpose(x_l) * ds, [d x batch] by [batch x 1]: a single column, no work area.
    this.ex.sgemmTransA(pxl, pds, pdw, d, batch, 1, end);
    this.get(f, dx0, pdx0, n);
    this.get(f, dxl, pdxl, n);
    this.get(f, ds, pds, batch);
    this.get(f, db, pdb, d);
    this.get(f, dw, pdw, d);
  }

  /** See {@link denseCrossNetForward}. */
  crossNetForward(x0: Float32Array, layers: readonly CrossNetLayer[], batch: number, d: number): void {
    const n = batch * d, L = layers.length;
    const at = crossNetForwardLayout(batch, d, L), work = at[at.length - 1];
    this.reserve(work + denseWorkBytes(batch, d, 1));
    const f = this.floats();
    this.put(f, x0, at[0], n);
    for (let l = 0; l < L; l++) {
      this.put(f, layers[l].w, at[1 + 2 * L + l], d);
      this.put(f, layers[l].b, at[1 + 3 * L + l], d);
    }
    for (let l = 0; l < L; l++) {
      const pxl = at[l], ps = at[1 + L + l];
      this.ex.sgemm(pxl, at[1 + 2 * L + l], ps, batch, d, 1, work);
      this.ex.crossForward(at[0], pxl, ps, at[1 + 3 * L + l], at[l + 1], batch, d);
      this.get(f, layers[l].s, ps, batch);
      this.get(f, layers[l].y, at[l + 1], n);
    }
  }

  /** See {@link denseCrossNetBackward}. */
  crossNetBackward(
    dy: Float32Array, x0: Float32Array, layers: readonly CrossNetLayer[], out: Float32Array, addend: Float32Array | undefined,
    batch: number, d: number,
  ): void {
    const n = batch * d, L = layers.length;
    const at = crossNetBackwardLayout(batch, d, L);
    const [pdx0, pg0, pg1, pds, pdb, pdw, pacc, end] = at.slice(at.length - 8);
    this.reserve(end);
    const f = this.floats();
    this.put(f, dy, at[0], n);
    this.put(f, x0, at[1], n);
    for (let l = 1; l < L; l++) this.put(f, layers[l - 1].y, at[1 + l], n);
    for (let l = 0; l < L; l++) {
      this.put(f, layers[l].s, at[L + 1 + l], batch);
      this.put(f, layers[l].w, at[2 * L + 1 + l], d);
    }
    // From the last layer to the first; the gradient through the x_l chain
    // alternates between g0 and g1, dx0 of every layer adds up in acc.
    let g = at[0];
    for (let l = L - 1; l >= 0; l--) {
      const pxl = at[1 + l], next = g === pg0 ? pg1 : pg0;
      this.ex.crossBackward(g, at[1], at[L + 1 + l], at[2 * L + 1 + l], pdx0, next, pds, pdb, batch, d);
      this.ex.sgemmTransA(pxl, pds, pdw, d, batch, 1, end);
      this.ex.crossAccumulate(pacc, pdx0, next, n, l === L - 1 ? 1 : 0, l === 0 ? 1 : 0);
      this.get(f, layers[l].db, pdb, d);
      this.get(f, layers[l].dw, pdw, d);
      g = next;
    }
    if (addend) {
      // dx0's slot is free now: the addend goes there and one more pass adds it.
      this.put(f, addend, pdx0, n);
      this.ex.crossAccumulate(pacc, pdx0, g, n, 0, 0);
    }
    this.get(f, out, pacc, n);
  }

  /** See {@link denseDropout}: memory st (16 bytes) | x [n] | y [n] | mask [n] | bits [n / 32]. */
  dropout(state: Uint32Array, x: Float32Array, y: Float32Array, mask: Float32Array | null, bits: Uint32Array | null, n: number, threshold: number, keep: number): void {
    const words = Math.ceil(n / 32);
    const [pst, px, py, pm, pbits, end] = carve([4, n, n, mask ? n : 0, bits ? words : 0]);
    this.reserve(end);
    const f = this.floats(), u = new Uint32Array(f.buffer, pst, 4);
    u.set(state);
    this.put(f, x, px, n);
    this.ex.dropout(pst, px, py, mask ? pm : 0, bits ? pbits : 0, n, threshold, keep);
    this.get(f, y, py, n);
    if (mask) this.get(f, mask, pm, n);
    if (bits) bits.set(new Uint32Array(f.buffer, pbits, words));
    state.set(u);
  }

  /** See {@link denseDropoutBackward}: memory bits [n / 32] | dy [n] | dx [n]. */
  dropoutBackward(bits: Uint32Array, dy: Float32Array, dx: Float32Array, n: number, keep: number): void {
    const words = Math.ceil(n / 32);
    const [pbits, pdy, pdx, end] = carve([words, n, n]);
    this.reserve(end);
    const f = this.floats();
    new Uint32Array(f.buffer, pbits, words).set(bits.subarray(0, words));
    this.put(f, dy, pdy, n);
    this.ex.dropoutBackward(pbits, pdy, pdx, n, keep);
    this.get(f, dx, pdx, n);
  }
}

/**
 * Memory of a fused linear + ReLU layer (src/kernels/assembly/relu.ts):
 * forward  y [m n] | x [m k] | w [k n] | b [n] | work of y = x w;
 * backward dz [m n] | y [m n] | x [m k] | w [k n] | dw [k n] | dx [m k] | db [n float64] | work of both products.
 */
function linearReluLayout(m: number, k: number, n: number, backward: boolean): number[] {
  return backward ? carve([m * n, m * n, m * k, k * n, k * n, m * k, 2 * n]) : carve([m * n, m * k, k * n, n]);
}

/** Bytes of kernel memory a fused linear + ReLU step of this size needs. */
export function linearReluBytes(m: number, k: number, n: number): number {
  const f = linearReluLayout(m, k, n, false), b = linearReluLayout(m, k, n, true);
  return Math.max(f[f.length - 1] + denseWorkBytes(m, k, n), b[b.length - 1] + Math.max(denseWorkBytes(k, m, n), denseWorkBytes(m, n, k)));
}

class DenseLayers {
  static forward(e: DenseEngine, x: Float32Array, w: Float32Array, b: Float32Array, y: Float32Array, m: number, k: number, n: number): void {
    const [py, px, pw, pb, work] = linearReluLayout(m, k, n, false);
    e.reserveBytes(work + denseWorkBytes(m, k, n));
    const f = e.view();
    f.set(x.subarray(0, m * k), px >>> 2);
    f.set(w.subarray(0, k * n), pw >>> 2);
    f.set(b.subarray(0, n), pb >>> 2);
    e.product("nn", px, pw, py, m, k, n, work);
    e.ex.biasRelu(py, pb, m, n);
    y.set(f.subarray(py >>> 2, (py >>> 2) + m * n));
  }

  static backward(
    e: DenseEngine, dy: Float32Array, y: Float32Array, x: Float32Array, w: Float32Array,
    dw: Float32Array, db: Float32Array, dx: Float32Array, m: number, k: number, n: number,
  ): void {
    const [pdz, py, px, pw, pdw, pdx, pdb, work] = linearReluLayout(m, k, n, true);
    e.reserveBytes(work + Math.max(denseWorkBytes(k, m, n), denseWorkBytes(m, n, k)));
    const f = e.view();
    f.set(dy.subarray(0, m * n), pdz >>> 2);
    f.set(y.subarray(0, m * n), py >>> 2);
    f.set(x.subarray(0, m * k), px >>> 2);
    f.set(w.subarray(0, k * n), pw >>> 2);
    e.ex.reluBackward(pdz, py, pdb, m, n);
    e.product("tn", px, pdz, pdw, k, m, n, work);
    e.product("nt", pdz, pw, pdx, m, n, k, work);
    dw.set(f.subarray(pdw >>> 2, (pdw >>> 2) + k * n));
    dx.set(f.subarray(pdx >>> 2, (pdx >>> 2) + m * k));
    const sums = new Float64Array(f.buffer, pdb, n);
    for (let j = 0; j < n; j++) db[j] = sums[j];
  }
}

/**
 * A fully connected layer followed by a ReLU, forward, in WebAssembly SIMD:
 * y = relu(x w + b) with the float32 contract of src/nn/linear-relu.ts (same
 * bits as its TypeScript path).
 */
export function denseLinearReluForward(x: Float32Array, w: Float32Array, b: Float32Array, y: Float32Array, m: number, k: number, n: number): void {
  DenseLayers.forward(getEngine(), x, w, b, y, m, k, n);
}

/** Its backward: dz = y > 0 ? dy : 0, dw = x^T dz, db = column sums of dz (float64, then rounded), dx = dz w^T. */
export function denseLinearReluBackward(
  dy: Float32Array, y: Float32Array, x: Float32Array, w: Float32Array,
  dw: Float32Array, db: Float32Array, dx: Float32Array, m: number, k: number, n: number,
): void {
  DenseLayers.backward(getEngine(), dy, y, x, w, dw, db, dx, m, k, n);
}

/** How the dense kernels run; see {@link configureDense}. */
export interface DenseOptions {
  /** 1: products on the calling thread; 2: large products split with a helper thread (the same bits). */
  threads: number;
  /** Fused multiply-adds in the products (relaxed SIMD): faster, not the TypeScript kernels' bits. */
  fma: boolean;
  /** With 2 threads, products of fewer multiply-adds (m * k * n) than this run whole on the calling thread. */
  splitMin: number;
}

let options: DenseOptions = { threads: 1, fma: false, splitMin: SPLIT_MIN };
let engine: DenseEngine | undefined;
let failure: unknown;

/**
 * Sets how the dense kernels run from the next product on (the kernel memory
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
export function configureDense(next: Partial<DenseOptions>): DenseOptions {
  const threads = next.threads ?? options.threads, fma = next.fma ?? options.fma, splitMin = next.splitMin ?? options.splitMin;
  if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`dense threads must be a positive integer, got ${threads}`);
  if (!(splitMin >= 0)) throw new RangeError(`dense splitMin must be a non-negative number, got ${splitMin}`);
  if (fma && !relaxedSimdAvailable()) {
    throw new Error("fused multiply-add needs WebAssembly relaxed SIMD, which this runtime cannot compile");
  }
  const want: DenseOptions = { threads: Math.min(2, threads, availableParallelism()), fma, splitMin };
  if (want.threads !== options.threads || want.fma !== options.fma) {
    engine?.close();
    engine = undefined;
    failure = undefined;
  }
  options = want;
  return { ...options };
}

function getEngine(): DenseEngine {
  if (engine) return engine;
  if (failure !== undefined) throw failure;
  try {
    engine = new DenseEngine(options);
  } catch (e) {
    failure = e;
    throw e;
  }
  return engine;
}

/**
 * Resolves once the dense kernels are running with their settings: with
 * `threads: 2`, once the helper thread has started. Until then products run
 * whole on the calling thread (the same results, only slower), so waiting is
 * optional; benchmarks and tests wait.
 */
export async function denseReady(): Promise<DenseOptions> {
  await getEngine().started();
  return { ...options };
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

/**
 * The DCN cross layer's forward in WebAssembly SIMD: s[batch] = xl * w (the
 * product of {@link denseMatmul}) and y = x0 * s + b + xl, with the float32
 * contract of src/nn/cross.ts (same bits as its TypeScript loops). x0, xl, y
 * hold at least batch * d floats, w and b d, s batch.
 */
export function denseCrossForward(
  x0: Float32Array, xl: Float32Array, w: Float32Array, b: Float32Array,
  s: Float32Array, y: Float32Array, batch: number, d: number,
): void {
  getEngine().crossForward(x0, xl, w, b, s, y, batch, d);
}

/**
 * The DCN cross layer's backward in WebAssembly SIMD: ds = row dot products of
 * dy and x0, dx0 = dy * s, dxl = dy + ds * w, db = column sums of dy and
 * dw = transpose(xl) * ds, with the float32 contract of src/nn/cross.ts.
 */
export function denseCrossBackward(
  dy: Float32Array, x0: Float32Array, xl: Float32Array, s: Float32Array, w: Float32Array,
  dx0: Float32Array, dxl: Float32Array, ds: Float32Array, db: Float32Array, dw: Float32Array, batch: number, d: number,
): void {
  getEngine().crossBackward(dy, x0, xl, s, w, dx0, dxl, ds, db, dw, batch, d);
}

/**
 * A whole cross network's forward in WebAssembly SIMD, x0 copied in once:
 * for each layer l (x_0 = x0), s_l = x_l . w_l and x_{l+1} = x0 * s_l + b_l + x_l,
 * with the float32 contract of src/nn/cross.ts (the bits of its layers one
 * by one). Writes each layer's s and y.
 */
export function denseCrossNetForward(x0: Float32Array, layers: readonly CrossNetLayer[], batch: number, d: number): void {
  getEngine().crossNetForward(x0, layers, batch, d);
}

/**
 * The whole network's backward from the gradient dy of its output: each
 * layer's dw and db, and into `out` the gradient of x0, (the sum over the
 * layers, last to first, of dx0 plus, at the first layer, its dxl) + addend,
 * as src/nn/cross.ts adds them. Each layer's s and y must hold its forward's.
 */
export function denseCrossNetBackward(
  dy: Float32Array, x0: Float32Array, layers: readonly CrossNetLayer[], out: Float32Array, addend: Float32Array | undefined,
  batch: number, d: number,
): void {
  getEngine().crossNetBackward(dy, x0, layers, out, addend, batch, d);
}

/**
 * Dropout from the xoshiro128** stream whose state (4 u32) is `state`, in
 * WebAssembly: the numbers and bits of Random.dropout (src/nn/random.ts),
 * and `state` advanced as it would be. threshold < 2^32. The mask goes to
 * `mask` (floats) and to `bits` (bit i % 32 of word i / 32 set where the unit
 * is kept, for denseDropoutBackward), either when not null.
 */
export function denseDropout(
  state: Uint32Array, x: Float32Array, y: Float32Array, mask: Float32Array | null, bits: Uint32Array | null,
  n: number, threshold: number, keep: number,
): void {
  getEngine().dropout(state, x, y, mask, bits, n, threshold, keep);
}

/** dx = dy * mask, the mask given as the bits of a denseDropout call: the bits of the float mask's product. */
export function denseDropoutBackward(bits: Uint32Array, dy: Float32Array, dx: Float32Array, n: number, keep: number): void {
  getEngine().dropoutBackward(bits, dy, dx, n, keep);
}

/**
 * Marks a phase of many products, such as a training step's forward and
 * backward: with two threads the helper then waits for work spinning instead
 * of sleeping (at most 20 ms without work), which makes splitting the small
 * products of CTR models pay, as long as split products take a good share
 * of such phases; otherwise the phase's products run whole in an ordinary
 * memory and the helper sleeps (see SPIN_SHARE). Call with false when the
 * phase ends (the sparse table work follows), so that the helper does not
 * hold a core meanwhile. Optional: without it the helper sleeps between
 * products.
 */
export function denseActive(on: boolean): void {
  engine?.active(on);
}

/** Products split between two threads since the settings last changed (0 on one thread). */
export function denseSplitProducts(): number {
  return engine ? engine.splitProducts : 0;
}

/** Bytes of memory the dense kernels hold now (0 before the first product). */
export function denseMemoryBytes(): number {
  return engine ? engine.memoryBytes : 0;
}

/** The raw exports, for tests: the work-area formula is checked against the module's. */
export function denseExportsForTest(): DenseExports {
  return getEngine().ex;
}
