/**
 * The engine of the WebAssembly SIMD matrix products (src/kernels/assembly/matmul.ts),
 * bit-identical twins of the plain TypeScript ones in src/nn/matmul.ts.
 *
 * One instance of the kernel module, created on first use, with a memory of
 * its own that only grows. Each call lays out its operands in a call area
 * (every part 16-byte aligned; for a product C [m x n] | A | B | work area,
 * A and B repacked for the kernel): an operand is copied in and a result
 * copied out, unless the array lives in the kernels' memory already (see
 * {@link layerBuffer}), when the kernel reads or writes it in place.
 */
import { performance } from "node:perf_hooks";
import { LayerHelper } from "./helper.js";
import { SplitPlanner } from "./split.js";
import { layerModule } from "./module.js";
import { HEAP_BASE } from "../layout.js";
import { Space } from "./space.js";
import { matmulLayout, matmulWorkBytes, MAX_BYTES, MAX_PAGES, type LayerExports, type MatmulLayout } from "./layouts.js";

/** Products smaller than this (m * k * n multiply-adds) run on one thread: the hand-over costs more. */
export const SPLIT_MIN = 1 << 20;

/** How the layer kernels run; see configureLayers (./ops.ts). */
export interface LayerKernelOptions {
  /** 1: products on the calling thread; 2: large products split with a helper thread (the same bits). */
  threads: number;
  /** Fused multiply-adds in the products (relaxed SIMD): faster, not the TypeScript kernels' bits. */
  fma: boolean;
  /** With 2 threads, products of fewer multiply-adds (m * k * n) than this run whole on the calling thread. */
  splitMin: number;
}
/**
 * An active phase has the helper spinning, and splits its products, while
 * split products take at least this share of such phases on average: opnn's
 * products take most of its phases and pay for the helper, dcn's and mlp's
 * a minority, and those two train faster with their products whole and the
 * helper asleep (bench `train`, docs/benchmarks.md).
 */
const SPIN_SHARE = 0.35;

const LAYOUT_CODE: Record<MatmulLayout, number> = { nn: 0, tn: 1, nt: 2 };

/**
 * With two threads, while splitting does not pay, a phase still spins the
 * helper and splits to measure again after this many phases, twice as many
 * after each probe that confirms it, up to MAX_PROBE_PHASES: waking the
 * helper costs the calling thread far more than a small product, so the
 * probes back off while they keep confirming.
 */
const PROBE_PHASES = 16;
const MAX_PROBE_PHASES = 1024;

export class LayerEngine {
  private readonly helper: LayerHelper | undefined;
  /**
   * Where the kernels run: a shared memory (with two threads the helper works
   * in it too) in which the model's activations live (see layerBuffer), so
   * that most calls copy nothing. Also on one thread: an ordinary memory
   * would save nothing (copies into either cost the same), and with the
   * activations outside it one thread copied them in and out of every call
   * (tens of megabytes a step for opnn) and trained every model slower.
   */
  private readonly space: Space;
  /** Whether the helper spins through the current phase (see active); products split only then, or outside phases. */
  private spinning = false;
  private inPhase = false;
  /** Bytes copied into and out of the memory by the calls (for tests and benchmarks). */
  copiedBytes = 0;
  /**
   * The resident arrays a call reads or writes in place, as [start, end) byte
   * pairs in the first `touchedWords` entries: an output must not overlap
   * them. Kept between calls (entries written over, never dropped), so that a
   * call allocates nothing here.
   */
  private readonly touched: number[] = [];
  private touchedWords = 0;
  /** The layouts placed last, shifted to the call area (place): a layout made once per size is shifted once. */
  private readonly placed = new WeakMap<readonly number[], { shift: number; at: readonly number[] }>();
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

  /** With a helper, products of fewer multiply-adds than this run whole on the calling thread. */
  splitMin: number;

  constructor(settings: Readonly<LayerKernelOptions>) {
    this.splitMin = settings.splitMin;
    const module = layerModule(settings.fma), memory = new WebAssembly.Memory({ initial: 2, maximum: MAX_PAGES, shared: true });
    this.space = new Space(memory, module);
    if (settings.threads > 1) this.helper = new LayerHelper(module, memory);
  }

  /** The current space's kernels (see space). */
  get ex(): LayerExports {
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

  /** The float64 view of the whole memory (valid until the next call that may grow it). */
  view64(): Float64Array {
    return this.space.f64;
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
  place(at: readonly number[], extra = 0): readonly number[] {
    const sp = this.space, bytes = at[at.length - 1] - HEAP_BASE + extra;
    this.touchedWords = 0;
    if (bytes > sp.callBytes) {
      // At least double, so that a growing batch does not grow the area on every call.
      const size = Math.max(bytes, 2 * sp.callBytes);
      if (HEAP_BASE + size > MAX_BYTES) throw new RangeError(`a matrix product needs ${HEAP_BASE + size} bytes of WebAssembly memory, the limit is 4 GiB`);
      // The old area holds nothing between calls.
      if (sp.callBytes > 0) sp.heap.release(sp.callArea);
      sp.callArea = sp.heap.alloc(size);
      sp.callBytes = size;
      sp.refresh();
    }
    const shift = sp.callArea - HEAP_BASE;
    if (shift === 0) return at;
    const last = this.placed.get(at);
    if (last?.shift === shift) return last.at;
    const shifted = at.map((p) => p + shift);
    this.placed.set(at, { shift, at: shifted });
    return shifted;
  }

  /**
   * Where a kernel reads n floats of a: a itself when it lives in the
   * memory, else a copy of it made at p.
   */
  in(a: Float32Array, p: number, n: number): number {
    if (a.length < n) throw new RangeError(`layer kernels: an operand holds ${a.length} floats, the call reads ${n}`);
    if (this.space.holds(a)) {
      this.touch(a.byteOffset, a.byteOffset + n * 4);
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
    if (out.length < n) throw new RangeError(`layer kernels: an output holds ${out.length} floats, the call writes ${n}`);
    if (!this.space.holds(out)) return p;
    const a = out.byteOffset, b = a + n * 4, t = this.touched;
    for (let i = 0; i < this.touchedWords; i += 2) if (a < t[i + 1] && t[i] < b) return p;
    this.touch(a, b);
    return a;
  }

  /** Notes the bytes [a, b) as read or written in place by the call. */
  private touch(a: number, b: number): void {
    const t = this.touched;
    t[this.touchedWords++] = a;
    t[this.touchedWords++] = b;
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

  /** See {@link layersActive}. */
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

  /** See {@link layerHelperRows}. */
  get helperRows(): number {
    return this.helper?.rows ?? 0;
  }

  /** See {@link layersSplitting}. */
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
  product(layout: MatmulLayout, a: number, b: number, c: number, m: number, k: number, n: number, work: number): void {
    const code = LAYOUT_CODE[layout];
    const h = this.helper;
    if (h?.ready === true && (this.spinning || !this.inPhase) && m >= 8 && n > 1 && m * k * n >= this.splitMin) {
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

  run(layout: MatmulLayout, a: Float32Array, b: Float32Array, out: Float32Array, m: number, k: number, n: number): void {
    const mn = m * n;
    const [pc, pa, pb, work] = this.place(matmulLayout(m, k, n), matmulWorkBytes(m, k, n));
    const xa = this.in(a, pa, m * k), xb = this.in(b, pb, k * n), xc = this.dst(out, pc, mn);
    this.product(layout, xa, xb, xc, m, k, n, work);
    this.fetch(out, xc, mn);
  }
}
