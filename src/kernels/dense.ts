import { availableParallelism } from "node:os";
import { performance } from "node:perf_hooks";
import { DenseHelper } from "./dense-helper.js";
import { SplitPlanner } from "./dense-split.js";
import { denseImports, denseModule, relaxedSimdAvailable } from "./dense-module.js";
import { HEAP_BASE } from "./layout.js";
import { Heap } from "./heap.js";

/**
 * The WebAssembly SIMD dense matrix products (src/kernels/assembly/matmul.ts),
 * bit-identical twins of the plain TypeScript ones in src/nn/matmul.ts.
 *
 * One instance of the kernel module, created on first use, with a memory of
 * its own that only grows. Each call lays out its operands in a call area
 * (every part 16-byte aligned; for a product C [m x n] | A | B | work area,
 * A and B repacked for the kernel): an operand is copied in and a result
 * copied out, unless the array lives in the kernels' memory already (see
 * {@link denseBuffer}), when the kernel reads or writes it in place.
 */

/** Which product: a*b ("nn"), transpose(a)*b ("tn", a stored [k x m]), a*transpose(b) ("nt", b stored [n x k]). */
export type DenseLayout = "nn" | "tn" | "nt";

interface DenseExports {
  sgemm(a: number, b: number, c: number, m: number, k: number, n: number, work: number): void;
  sgemmTransA(a: number, b: number, c: number, m: number, k: number, n: number, work: number): void;
  sgemmTransB(a: number, b: number, c: number, m: number, k: number, n: number, work: number): void;
  sgemmWorkBytes(m: number, k: number, n: number): number;
  sgemmPackB(layout: number, b: number, m: number, k: number, n: number, work: number, copy: number): void;
  sgemmBlock(layout: number, a: number, c: number, m: number, k: number, n: number, i0: number, i1: number, work: number, copy: number): void;
  crossForward(x0: number, xl: number, s: number, b: number, y: number, batch: number, d: number): void;
  crossBackward(
    dy: number, x0: number, xl: number, s: number, w: number, dx0: number, dxl: number, ds: number, db: number, dw: number,
    batch: number, d: number,
  ): void;
  crossBackwardAccumulate(
    dy: number, x0: number, s: number, w: number, acc: number, dxl: number, ds: number, db: number, batch: number, d: number,
    first: number, last: number, add: number, xl: number, dw: number,
  ): void;
  biasRelu(c: number, b: number, m: number, n: number): void;
  reluBackward(dy: number, y: number, dz: number, db: number, m: number, n: number): void;
  dropout(st: number, x: number, y: number, mask: number, bits: number, n: number, threshold: number, keep: number): void;
  dropoutBackward(bits: number, dy: number, dx: number, n: number, keep: number): void;
  outerProductForward(x: number, xc: number, f: number, batch: number, fields: number, d: number): void;
  outerProductBackward(dxc: number, f: number, dx: number, batch: number, fields: number, d: number, df: number): void;
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
 * counts from HEAP_BASE on (the call area's start in a memory of its own; see
 * DenseEngine.place); one more entry at the end: where the next would start.
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
 * backward dy [n] | x0 [n] | x_1 .. x_{count-1} [n each] | s_0 .. | w_0 .. | addend [n] | g0 [n] | g1 [n] | ds [batch] | db [dim] | dw [dim] | acc [n].
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
 * An active phase has the helper spinning, and splits its products, while
 * split products take at least this share of such phases on average: opnn's
 * take about 60%, dcn's and mlp's under 25% (and dcn trained at 104-113k
 * rows/s with its products whole and the helper asleep, against 80-88k
 * before).
 */
const SPIN_SHARE = 0.35;

const LAYOUT_CODE: Record<DenseLayout, number> = { nn: 0, tn: 1, nt: 2 };

/** One memory with its instance of the dense module, and views of it. */
class Space {
  readonly ex: DenseExports;
  f32: Float32Array;
  /**
   * The memory's allocator: arrays of {@link denseBuffer} live in it, and the
   * call area is one of its blocks (callArea, callBytes long), so that the
   * two never overlap.
   */
  readonly heap: Heap;
  callArea = HEAP_BASE;
  callBytes = 0;
  /** Every buffer object the memory had (one per size): an array over any of them lives here. */
  readonly buffers = new WeakSet<ArrayBufferLike>();

  constructor(readonly memory: WebAssembly.Memory, module: WebAssembly.Module) {
    this.ex = new WebAssembly.Instance(module, denseImports(memory)).exports as unknown as DenseExports;
    this.heap = new Heap(memory);
    this.f32 = new Float32Array(memory.buffer);
    this.buffers.add(memory.buffer);
  }

  /** Re-makes the view after the memory grew (a shared memory's buffer object changes with its size). */
  refresh(): void {
    if (this.f32.buffer === this.memory.buffer && this.f32.length > 0) return;
    this.f32 = new Float32Array(this.memory.buffer);
    this.buffers.add(this.memory.buffer);
  }

  /** True when a lives in this memory (so a kernel can use it at a.byteOffset). */
  holds(a: Float32Array): boolean {
    return this.buffers.has(a.buffer);
  }
}

/**
 * With two threads, while splitting does not pay, a phase still spins the
 * helper and splits to measure again after this many phases, twice as many
 * after each probe that confirms it, up to MAX_PROBE_PHASES: waking the
 * helper costs the calling thread about 1 ms here (dcn probed 36 of 586
 * phases at a fixed 16).
 */
const PROBE_PHASES = 16;
const MAX_PROBE_PHASES = 1024;

class DenseEngine {
  private readonly helper: DenseHelper | undefined;
  /**
   * Where the kernels run: a shared memory (with two threads the helper works
   * in it too) in which the model's activations live (see denseBuffer), so
   * that most calls copy nothing. Also on one thread: an ordinary memory
   * would save nothing (copies into either cost the same here), and with
   * the activations outside it one thread copied them in and out of every
   * call (opnn: 24 MB a step) and trained dcn 8%, mlp 6% and opnn 2%
   * slower.
   */
  private readonly space: Space;
  /** Whether the helper spins through the current phase (see active); products split only then, or outside phases. */
  private spinning = false;
  private inPhase = false;
  /** Bytes copied into and out of the memory by the calls (for tests and benchmarks). */
  copiedBytes = 0;
  /** The resident arrays a call reads or writes in place, as [start, end) byte pairs: an output must not overlap them. */
  private readonly touched: number[] = [];
  /** Products split between the threads so far (for tests and benchmarks). */
  splitProducts = 0;
  /**
   * The active phase: when it began and the wall time of its split products;
   * the moving average of the share of split products in the phases that
   * could split (1 until measured); phases since the last such phase, and
   * how many until the next probe (see active).
   */
  private phaseT0 = 0;
  private phaseSplitMs = 0;
  private splitShare = 1;
  private sinceProbe = 0;
  private probeEvery = PROBE_PHASES;
  private readonly planner = new SplitPlanner();

  constructor(settings: Readonly<DenseOptions>) {
    const module = denseModule(settings.fma), memory = new WebAssembly.Memory({ initial: 2, maximum: MAX_PAGES, shared: true });
    this.space = new Space(memory, module);
    if (settings.threads > 1) this.helper = new DenseHelper(module, memory);
  }

  /** The current space's kernels (see space). */
  get ex(): DenseExports {
    return this.space.ex;
  }

  /** Bytes of the memory. */
  get memoryBytes(): number {
    return this.space.memory.buffer.byteLength;
  }

  /** The float view of the whole memory (valid until the next call that may grow it). */
  view(): Float32Array {
    return this.space.f32;
  }

  /** n zero floats in the memory, which the kernels then read and write in place. */
  buffer(n: number): Float32Array {
    const sp = this.space;
    const p = sp.heap.alloc(n * 4);
    sp.refresh();
    return new Float32Array(sp.f32.buffer, p, n);
  }

  /** Frees an array of {@link buffer} (whole, as it returned it); other arrays are ignored. */
  release(a: Float32Array): void {
    const sp = this.space;
    if (sp.holds(a)) sp.heap.release(a.byteOffset);
  }

  /**
   * Makes the call area room for a layout (addresses from HEAP_BASE, as
   * carve gives them; the last is its end) plus `extra` bytes, and returns
   * the layout's addresses in it.
   */
  place(at: number[], extra = 0): number[] {
    const sp = this.space, bytes = at[at.length - 1] - HEAP_BASE + extra;
    this.touched.length = 0;
    if (bytes > sp.callBytes) {
      // At least double, so that a growing batch does not grow the area on every call.
      const size = Math.max(bytes, 2 * sp.callBytes);
      if (HEAP_BASE + size > MAX_BYTES) throw new RangeError(`dense product needs ${HEAP_BASE + size} bytes of WebAssembly memory, the limit is 4 GiB`);
      // The old area holds nothing between calls.
      if (sp.callBytes > 0) sp.heap.release(sp.callArea);
      sp.callArea = sp.heap.alloc(size);
      sp.callBytes = size;
      sp.refresh();
    }
    const shift = sp.callArea - HEAP_BASE;
    return shift === 0 ? at : at.map((p) => p + shift);
  }

  /**
   * Where a kernel reads n floats of a: a itself when it lives in the
   * memory, else a copy of it made at p.
   */
  in(a: Float32Array, p: number, n: number): number {
    if (a.length < n) throw new RangeError(`dense kernels: an operand holds ${a.length} floats, the call reads ${n}`);
    if (this.space.holds(a)) {
      this.touched.push(a.byteOffset, a.byteOffset + n * 4);
      return a.byteOffset;
    }
    this.copyIn(a, p, n);
    return p;
  }

  /** Copies n floats of a into the memory at p. */
  private copyIn(a: Float32Array, p: number, n: number): void {
    this.space.f32.set(a.length === n ? a : a.subarray(0, n), p >>> 2);
    this.copiedBytes += n * 4;
  }

  /**
   * Where a kernel writes n floats meant for out: out itself when it lives
   * in the memory and overlaps nothing else the call uses in place, else p
   * (then {@link fetch} copies them out).
   */
  dst(out: Float32Array, p: number, n: number): number {
    // Written in place, a short array would let the kernel write past it.
    if (out.length < n) throw new RangeError(`dense kernels: an output holds ${out.length} floats, the call writes ${n}`);
    if (!this.space.holds(out)) return p;
    const a = out.byteOffset, b = a + n * 4, t = this.touched;
    for (let i = 0; i < t.length; i += 2) if (a < t[i + 1] && t[i] < b) return p;
    t.push(a, b);
    return a;
  }

  /** Copies the n floats a kernel wrote at p into out, unless p is out itself. */
  fetch(out: Float32Array, p: number, n: number): void {
    if (p === out.byteOffset && this.space.holds(out)) return;
    out.set(this.space.f32.subarray(p >>> 2, (p >>> 2) + n));
    this.copiedBytes += n * 4;
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
    if (this.helper?.ready !== true) return;
    const now = performance.now();
    this.inPhase = on;
    if (!on) {
      if (this.spinning) {
        this.helper.active(false);
        this.spinning = false;
        // A moving average, so that one phase in which the helper was slow to
        // run does not send a model of large products to one thread.
        this.splitShare = 0.75 * this.splitShare + 0.25 * (this.phaseSplitMs / Math.max(1e-6, now - this.phaseT0));
        this.probeEvery = this.splitShare >= SPIN_SHARE ? PROBE_PHASES : Math.min(MAX_PROBE_PHASES, 2 * this.probeEvery);
      }
      return;
    }
    // The helper spins through a phase, and its products split, only when
    // split products took a good share of the recent such phases
    // (SPIN_SHARE), or to measure that again (see PROBE_PHASES).
    // Otherwise its products run whole and the helper sleeps: in a phase of
    // small products a spinning helper takes the core the reader and
    // lookahead threads need, and a split that has to wake it costs more
    // than it saves.
    this.phaseT0 = now;
    this.phaseSplitMs = 0;
    if (this.splitShare >= SPIN_SHARE || ++this.sinceProbe >= this.probeEvery) {
      this.sinceProbe = 0;
      this.spinning = true;
      this.helper.active(true);
    }
  }

  /** See {@link denseHelperRows}. */
  get helperRows(): number {
    return this.helper?.rows ?? 0;
  }

  /** See {@link denseSplitting}. */
  get splitting(): boolean {
    return this.helper?.ready === true && this.splitShare >= SPIN_SHARE;
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
    if (h?.ready === true && (this.spinning || !this.inPhase) && m >= 8 && n > 1 && m * k * n >= options.splitMin) {
      const plan = this.planner, slot = plan.slot(code, m, k, n), t0 = performance.now();
      if (plan.split(slot)) {
        // About 16 blocks: a thread held up leaves at most one block to wait for.
        const block = Math.max(4, ((m >> 4) + 3) & ~3);
        h.start(code, a, b, c, m, k, n, work, block);
        this.ex.sgemmPackB(code, b, m, k, n, work, 0);
        for (let i0 = h.take(); i0 < m; i0 = h.take()) this.ex.sgemmBlock(code, a, c, m, k, n, i0, Math.min(m, i0 + block), work, 0);
        h.finish();
        const ms = performance.now() - t0;
        plan.splitDone(slot, ms);
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
    const mn = m * n;
    const [pc, pa, pb, work] = this.place(carve([mn, m * k, k * n]), denseWorkBytes(m, k, n));
    const xa = this.in(a, pa, m * k), xb = this.in(b, pb, k * n), xc = this.dst(out, pc, mn);
    this.product(layout, xa, xb, xc, m, k, n, work);
    this.fetch(out, xc, mn);
  }

  crossForward(
    x0: Float32Array, xl: Float32Array, w: Float32Array, b: Float32Array,
    s: Float32Array, y: Float32Array, batch: number, d: number,
  ): void {
    const n = batch * d;
    const [px0, pxl0, pw, pb, ps, py, work] = this.place(crossForwardLayout(batch, d), denseWorkBytes(batch, d, 1));
    const qx0 = this.in(x0, px0, n);
    // The first layer has x_l = x0: one copy serves both.
    const qxl = xl === x0 ? qx0 : this.in(xl, pxl0, n);
    const qw = this.in(w, pw, d), qb = this.in(b, pb, d);
    const qs = this.dst(s, ps, batch), qy = this.dst(y, py, n);
    this.ex.sgemm(qxl, qw, qs, batch, d, 1, work);
    this.ex.crossForward(qx0, qxl, qs, qb, qy, batch, d);
    this.fetch(s, qs, batch);
    this.fetch(y, qy, n);
  }

  /** One cross layer's backward loops (dw = transpose(xl) * ds among them); dx0, dxl, ds, db, dw copied out. */
  crossBackward(
    dy: Float32Array, x0: Float32Array, xl: Float32Array, s: Float32Array, w: Float32Array,
    dx0: Float32Array, dxl: Float32Array, ds: Float32Array, db: Float32Array, dw: Float32Array, batch: number, d: number,
  ): void {
    const n = batch * d;
    const [pdy, px0, pxl0, ps, pw, pdx0, pdxl, pds, pdb, pdw] = this.place(crossBackwardLayout(batch, d));
    const qdy = this.in(dy, pdy, n), qx0 = this.in(x0, px0, n);
    const qxl = xl === x0 ? qx0 : this.in(xl, pxl0, n);
    const qs = this.in(s, ps, batch), qw = this.in(w, pw, d);
    const qdx0 = this.dst(dx0, pdx0, n), qdxl = this.dst(dxl, pdxl, n), qds = this.dst(ds, pds, batch);
    this.ex.crossBackward(qdy, qx0, qxl, qs, qw, qdx0, qdxl, qds, pdb, pdw, batch, d);
    this.fetch(dx0, qdx0, n);
    this.fetch(dxl, qdxl, n);
    this.fetch(ds, qds, batch);
    this.fetch(db, pdb, d);
    this.fetch(dw, pdw, d);
  }

  /** See {@link denseCrossNetForward}. */
  crossNetForward(x0: Float32Array, layers: readonly CrossNetLayer[], batch: number, d: number): void {
    const n = batch * d, L = layers.length;
    const at = this.place(crossNetForwardLayout(batch, d, L), denseWorkBytes(batch, d, 1)), work = at[at.length - 1];
    // x[l]: where x_l is, x[0] = x0; each layer's output x_{l+1} is written
    // into its y when y lives in the memory (the next layer reads it there).
    const x = [this.in(x0, at[0], n)], w: number[] = [], b: number[] = [];
    for (let l = 0; l < L; l++) {
      w.push(this.in(layers[l].w, at[1 + 2 * L + l], d));
      b.push(this.in(layers[l].b, at[1 + 3 * L + l], d));
    }
    for (let l = 0; l < L; l++) {
      const qs = this.dst(layers[l].s, at[1 + L + l], batch);
      x.push(this.dst(layers[l].y, at[l + 1], n));
      this.ex.sgemm(x[l], w[l], qs, batch, d, 1, work);
      this.ex.crossForward(x[0], x[l], qs, b[l], x[l + 1], batch, d);
      this.fetch(layers[l].s, qs, batch);
      this.fetch(layers[l].y, x[l + 1], n);
    }
  }

  /** See {@link denseCrossNetBackward}. */
  crossNetBackward(
    dy: Float32Array, x0: Float32Array, layers: readonly CrossNetLayer[], out: Float32Array, addend: Float32Array | undefined,
    batch: number, d: number,
  ): void {
    const n = batch * d, L = layers.length;
    const at = this.place(crossNetBackwardLayout(batch, d, L));
    const [padd, pg0, pg1, pds, pdb, pdw, pacc] = at.slice(at.length - 8);
    const qdy = this.in(dy, at[0], n);
    // x[l]: where x_l is (x_0 = x0; x_l, l >= 1, is the previous layer's y).
    const x = [this.in(x0, at[1], n)], s: number[] = [], w: number[] = [];
    for (let l = 1; l < L; l++) x.push(this.in(layers[l - 1].y, at[1 + l], n));
    for (let l = 0; l < L; l++) {
      s.push(this.in(layers[l].s, at[L + 1 + l], batch));
      w.push(this.in(layers[l].w, at[2 * L + 1 + l], d));
    }
    const qadd = addend ? this.in(addend, padd, n) : 0;
    // The sum goes straight into out when it lives in the memory.
    const acc = this.dst(out, pacc, n);
    // From the last layer to the first; the gradient through the x_l chain
    // alternates between g0 and g1, dx0 of every layer adds up in acc, and
    // the addend with the first layer's (in the same pass as the layer's
    // backward loops).
    let g = qdy;
    for (let l = L - 1; l >= 0; l--) {
      const next = g === pg0 ? pg1 : pg0;
      this.ex.crossBackwardAccumulate(
        g, x[0], s[l], w[l], acc, next, pds, pdb, batch, d, l === L - 1 ? 1 : 0, l === 0 ? 1 : 0, l === 0 ? qadd : 0, x[l], pdw,
      );
      this.fetch(layers[l].db, pdb, d);
      this.fetch(layers[l].dw, pdw, d);
      g = next;
    }
    this.fetch(out, acc, n);
  }

  /** See {@link denseDropout}: memory st (128 bytes) | x [n] | y [n] | mask [n] | bits [n / 32]. */
  dropout(state: Uint32Array, x: Float32Array, y: Float32Array, mask: Float32Array | null, bits: Uint32Array | null, n: number, threshold: number, keep: number): void {
    const words = Math.ceil(n / 32);
    const [pst, px, py, pm, pbits] = this.place(carve([32, n, n, mask ? n : 0, bits ? words : 0]));
    const f = this.space.f32, u = new Uint32Array(f.buffer, pst, 32);
    u.set(state);
    const qx = this.in(x, px, n), qy = this.dst(y, py, n), qm = mask ? this.dst(mask, pm, n) : 0;
    this.ex.dropout(pst, qx, qy, qm, bits ? pbits : 0, n, threshold, keep);
    this.fetch(y, qy, n);
    if (mask) this.fetch(mask, qm, n);
    if (bits) bits.set(new Uint32Array(f.buffer, pbits, words));
    state.set(u);
  }

  /** See {@link denseOuterProductForward}: memory x [batch F d] | xc [batch (F d + d(d+1)/2)] | f [batch d]. */
  outerProductForward(x: Float32Array, xc: Float32Array, f: Float32Array, batch: number, fields: number, d: number): void {
    const fd = batch * fields * d, wd = batch * (fields * d + (d * (d + 1)) / 2);
    const [px, pxc, pf] = this.place(carve([fd, wd, batch * d]));
    const qx = this.in(x, px, fd), qxc = this.dst(xc, pxc, wd), qf = this.dst(f, pf, batch * d);
    this.ex.outerProductForward(qx, qxc, qf, batch, fields, d);
    this.fetch(xc, qxc, wd);
    this.fetch(f, qf, batch * d);
  }

  /** See {@link denseOuterProductBackward}: memory dxc [batch (F d + d(d+1)/2)] | f [batch d] | dx [batch F d] | df [d float64]. */
  outerProductBackward(dxc: Float32Array, f: Float32Array, dx: Float32Array, batch: number, fields: number, d: number): void {
    const fd = batch * fields * d, wd = batch * (fields * d + (d * (d + 1)) / 2);
    const [pdxc, pf, pdx, pdf] = this.place(carve([wd, batch * d, fd, 2 * d]));
    const qdxc = this.in(dxc, pdxc, wd), qf = this.in(f, pf, batch * d), qdx = this.dst(dx, pdx, fd);
    this.ex.outerProductBackward(qdxc, qf, qdx, batch, fields, d, pdf);
    this.fetch(dx, qdx, fd);
  }

  /** See {@link denseDropoutBackward}: memory bits [n / 32] | dy [n] | dx [n]. */
  dropoutBackward(bits: Uint32Array, dy: Float32Array, dx: Float32Array, n: number, keep: number): void {
    const words = Math.ceil(n / 32);
    const [pbits, pdy, pdx] = this.place(carve([words, n, n]));
    new Uint32Array(this.space.f32.buffer, pbits, words).set(bits.subarray(0, words));
    const qdy = this.in(dy, pdy, n), qdx = this.dst(dx, pdx, n);
    this.ex.dropoutBackward(pbits, qdy, qdx, n, keep);
    this.fetch(dx, qdx, n);
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
    const [py, px, pw, pb, work] = e.place(linearReluLayout(m, k, n, false), denseWorkBytes(m, k, n));
    const qx = e.in(x, px, m * k), qw = e.in(w, pw, k * n), qb = e.in(b, pb, n), qy = e.dst(y, py, m * n);
    e.product("nn", qx, qw, qy, m, k, n, work);
    e.ex.biasRelu(qy, qb, m, n);
    e.fetch(y, qy, m * n);
  }

  static backward(
    e: DenseEngine, dy: Float32Array, y: Float32Array, x: Float32Array, w: Float32Array,
    dw: Float32Array, db: Float32Array, dx: Float32Array, m: number, k: number, n: number,
  ): void {
    const [pdz, py, px, pw, pdw, pdx, pdb, work] = e.place(linearReluLayout(m, k, n, true), Math.max(denseWorkBytes(k, m, n), denseWorkBytes(m, n, k)));
    // dz goes to its own slot: dy is the caller's.
    const qdy = e.in(dy, pdz, m * n), qy = e.in(y, py, m * n), qx = e.in(x, px, m * k), qw = e.in(w, pw, k * n);
    const qdw = e.dst(dw, pdw, k * n), qdx = e.dst(dx, pdx, m * k);
    e.ex.reluBackward(qdy, qy, pdz, pdb, m, n);
    e.product("tn", qx, pdz, qdw, k, m, n, work);
    e.product("nt", pdz, qw, qdx, m, n, k, work);
    e.fetch(dw, qdw, k * n);
    e.fetch(dx, qdx, m * k);
    const sums = new Float64Array(e.view().buffer, pdb, n);
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
 * Dropout from the eight interleaved xoshiro128** generators whose state
 * (32 u32) is `state`, in WebAssembly: the numbers and bits of
 * MaskStream.dropoutTs (src/nn/mask-stream.ts), and `state` advanced as it
 * would be. threshold < 2^32. The mask goes to
 * `mask` (floats) and to `bits` (bit i % 32 of word i / 32 set where the unit
 * is kept, for denseDropoutBackward), either when not null.
 */
export function denseDropout(
  state: Uint32Array, x: Float32Array, y: Float32Array, mask: Float32Array | null, bits: Uint32Array | null,
  n: number, threshold: number, keep: number,
): void {
  getEngine().dropout(state, x, y, mask, bits, n, threshold, keep);
}

/**
 * OPNN's product layer input, in WebAssembly: for each of `batch` rows of x
 * (fields x d), f = the sum over fields and xc = [x row | q], q the upper
 * triangle of f f^T (row by row); the same bits as the TypeScript loops of
 * src/nn/product.ts.
 */
export function denseOuterProductForward(x: Float32Array, xc: Float32Array, f: Float32Array, batch: number, fields: number, d: number): void {
  getEngine().outerProductForward(x, xc, f, batch, fields, d);
}

/**
 * The product layer's input gradient from the stacked input's gradient dxc
 * and f (see {@link denseOuterProductForward}), in WebAssembly: the same bits
 * as the TypeScript loops of src/nn/product.ts.
 */
export function denseOuterProductBackward(dxc: Float32Array, f: Float32Array, dx: Float32Array, batch: number, fields: number, d: number): void {
  getEngine().outerProductBackward(dxc, f, dx, batch, fields, d);
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
 * of such phases; otherwise the phase's products run whole and the helper
 * sleeps (see SPIN_SHARE). Call with false when the
 * phase ends (the sparse table work follows), so that the helper does not
 * hold a core meanwhile. Optional: without it the helper sleeps between
 * products.
 */
export function denseActive(on: boolean): void {
  engine?.active(on);
}

/**
 * True while the phases' products are split between the two threads (see
 * {@link denseActive}): the second core is then busy with products.
 */
export function denseSplitting(): boolean {
  return engine?.splitting ?? false;
}

/**
 * A zero-filled Float32Array of n floats for activations and gradients: it
 * lives in the dense kernels' shared memory, where they read and write it in
 * place instead of copying it in and out (the same bits either way); before
 * the kernels run (see denseReady), an ordinary array. Never freed while the
 * kernels' settings stay; arrays made before a settings change still work,
 * copied like any other.
 */
export function denseBuffer(n: number): Float32Array {
  return engine ? engine.buffer(n) : new Float32Array(n);
}

/**
 * Frees an array that {@link denseBuffer} returned (whole), for reuse; it must
 * not be used after. Any other array is ignored, as are arrays of kernels
 * replaced since (their memory goes with them).
 */
export function denseRelease(a: Float32Array): void {
  engine?.release(a);
}

/** Bytes the dense kernels copied into and out of their memory since the settings last changed. */
export function denseCopiedBytes(): number {
  return engine ? engine.copiedBytes : 0;
}

/** Products split between two threads since the settings last changed (0 on one thread). */
export function denseSplitProducts(): number {
  return engine ? engine.splitProducts : 0;
}

/** Rows of split products that the current engine's helper thread computed (0 without one). */
export function denseHelperRows(): number {
  return engine?.helperRows ?? 0;
}

/** Bytes of memory the dense kernels hold now (0 before the first product). */
export function denseMemoryBytes(): number {
  return engine ? engine.memoryBytes : 0;
}

/** The raw exports, for tests: the work-area formula is checked against the module's. */
export function denseExportsForTest(): DenseExports {
  return getEngine().ex;
}
