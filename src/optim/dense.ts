import { Arena } from "../kernels/arena.js";
import { H_COUNT, H_FLAGS, H_TAU, HEADER_BYTES, MAX_ROW } from "../kernels/layout.js";
import { decodeEnvelope, encodeEnvelope, intField } from "../io/envelope.js";
import { StepCall } from "./call.js";
import { namedErrors, checkFinite, checkLr, checkShape, copyInto, ruleUsesHessian, type StepOptions } from "./checks.js";
import { resolveHyperparams, isOptimizerName, type Hyperparams, type OptimizerName, type ResolvedHyperparams } from "./hyper.js";

/**
 * A dense parameter of `rows` x `rowLength` float32 weights, stepped whole by
 * one optimizer. Each row is a group of the l21 penalty: an embedding vector, or
 * the outgoing weights of one input unit of a weight matrix stored [fanIn, fanOut].
 */
export class DenseParam {
  readonly rows: number;
  readonly rowLength: number;
  readonly hyper: ResolvedHyperparams;
  private call: StepCall;
  private readonly x: number;
  private readonly state: number;
  private readonly stride: number;
  private readonly grad: number;
  private readonly hess: number;
  /** stepSum's scratch of rows x rowLength floats (0 until a sum of several arrays needs it). */
  private scratch = 0;
  private t = 0;
  private zeros = 0;
  private disposed = false;

  /** Use `Optimizer.dense` (or `DenseParam.load`) rather than this constructor. */
  constructor(
    readonly optimizer: OptimizerName,
    hyper: ResolvedHyperparams,
    init: Float32Array,
    shape: { rows: number; rowLength: number },
    readonly arena: Arena = new Arena(),
  ) {
    checkShape(optimizer, shape.rows, shape.rowLength);
    if (!(init instanceof Float32Array) || init.length !== shape.rows * shape.rowLength) {
      throw new RangeError(
        `${optimizer}: initial values must be a Float32Array of rows x rowLength = ${shape.rows * shape.rowLength} floats, got ${describe(init)}`,
      );
    }
    const bad = firstNonFinite(init);
    if (bad >= 0) throw new RangeError(`${optimizer}: initial value at row ${Math.floor(bad / shape.rowLength)}, column ${bad % shape.rowLength} is ${init[bad]}`);
    this.rows = shape.rows;
    this.rowLength = shape.rowLength;
    this.hyper = hyper;
    const d = this.rowLength, n = this.rows * d;
    this.call = new StepCall(this.arena, optimizer, hyper, d, false);
    this.stride = this.call.recordBytes(false);
    const heap = this.arena.heap;
    this.x = heap.alloc(n * 4);
    this.state = heap.alloc(this.rows * this.stride);
    this.grad = heap.alloc(n * 4);
    this.hess = ruleUsesHessian(optimizer) ? heap.alloc(n * 4) : 0;
    heap.f32.set(init, this.x >>> 2);
    for (let r = 0; r < this.rows; r++) {
      let zero = true;
      for (let j = 0; j < d; j++) if (init[r * d + j] !== 0) { zero = false; break; }
      if (zero) {
        heap.u32[(this.state + r * this.stride + H_FLAGS) >>> 2] = 1;
        this.zeros++;
      }
    }
  }

  /** Number of completed steps (the global step t of the last update). */
  get stepCount(): number { return this.t; }
  /** Updates this parameter took in this process (row 0's update count: every step updates every row). */
  get updates(): number { this.live(); return this.arena.heap.u32[(this.state + H_COUNT) >>> 2]; }
  /** Rows with at least one non-zero weight; O(1). */
  get liveRows(): number { return this.rows - this.zeros; }
  /** Rows whose weights are all exactly 0.0 (pruned groups); O(1). */
  get zeroRows(): number { return this.zeros; }

  /**
   * One optimizer step with the gradient of all rows (rows x rowLength floats).
   * AdaHessian needs `hessian`, the Hessian-diagonal estimate of the same shape.
   * With `rows`, only the rows [start, end) step (the gradient and Hessian
   * hold every row, the others not read, or those rows only): the same floats as a
   * whole step gives those rows, and the step count advances as for a whole
   * step, so threads that each step their own rows of copies of one
   * parameter (../train/parallel-worker.ts) hold between them the state of
   * one parameter stepped whole (see {@link copyRows}).
   * On any error the weights and state are left untouched.
   */
  step(grad: ArrayLike<number>, opts: StepOptions = {}, rows?: { start: number; end: number }): void {
    this.stepWith(grad, undefined, opts.hessian, undefined, opts.lr, rows);
  }

  /**
   * step() with the gradient sum_k weights[k] * grads[k] (each of every
   * row, rows x rowLength), and with `hessians` (AdaHessian) the Hessian
   * estimate sum_k hessianWeights[k] * hessians[k], made in this
   * parameter's memory by the kernels (only the stepped rows' floats):
   * the first array times its weight (as is, when that is 1), then each
   * other one times its weight added in order, every float rounded as
   * TypeScript rounds `sum[i] *= w` and `sum[i] += g[i] * w` on a
   * Float32Array. The data-parallel workers' sum of a round's gradients
   * (../train/parallel-dense.ts), a few times faster than that loop.
   */
  stepSum(
    grads: readonly Float32Array[], weights: readonly number[], lr?: number,
    hessians?: { arrays: readonly Float32Array[]; weights: readonly number[] }, rows?: { start: number; end: number },
  ): void {
    this.stepWith(grads, weights, hessians?.arrays, hessians?.weights, lr, rows);
  }

  /** step (one array each, no weights) and stepSum (arrays and their weights). */
  private stepWith(
    grads: ArrayLike<number> | readonly Float32Array[], gw: readonly number[] | undefined,
    hessians: ArrayLike<number> | readonly Float32Array[] | undefined, hw: readonly number[] | undefined,
    lrAsked: number | undefined, rows?: { start: number; end: number },
  ): void {
    this.live();
    const d = this.rowLength, r0 = rows?.start ?? 0, r1 = rows?.end ?? this.rows;
    this.checkRows(r0, r1);
    const n = this.rows * d, o = r0 * d, m = (r1 - r0) * d;
    const k = this.arena.kernels;
    const lr = checkLr(this.optimizer, lrAsked, this.hyper.lr);
    this.sumInto(this.grad + o * 4, "gradient", grads, gw, n, o, m);
    // The row label is made only for an error (a step allocates nothing).
    const badGrad = k.findNonFinite(this.grad + o * 4, m);
    if (badGrad >= 0) checkFinite(this.optimizer, "gradient", badGrad, d, (r) => `row ${r + r0}`);
    let h = 0;
    if (this.hess) {
      if (hessians === undefined) throw new TypeError(`${this.optimizer}: step needs opts.hessian, the Hessian diagonal estimate`);
      this.sumInto(this.hess + o * 4, "hessian", hessians, hw, n, o, m);
      const badHess = k.findNonFinite(this.hess + o * 4, m);
      if (badHess >= 0) checkFinite(this.optimizer, "hessian", badHess, d, (r) => `row ${r + r0}`);
      h = this.hess + o * 4;
    } else if (hessians !== undefined) {
      throw new TypeError(`${this.optimizer}: opts.hessian is only used by adahessian and group-adahessian`);
    }
    this.call.prepare(this.t + 1, lr);
    this.t++;
    if (r1 > r0) this.zeros -= k.updateDense(this.call.ptr, this.x + o * 4, this.state + r0 * this.stride, this.stride, this.grad + o * 4, h, r1 - r0);
  }

  /**
   * Writes floats [o, o + m) of `src` (of n floats) at `dst`, or without
   * `weights` (step) of sum_k weights[k] * src[k] (stepSum); one array of
   * weight 1 is a copy.
   */
  private sumInto(dst: number, what: string, src: ArrayLike<number> | readonly Float32Array[], weights: readonly number[] | undefined, n: number, o: number, m: number): void {
    if (weights === undefined) {
      copyInto(this.optimizer, what, this.rowsOf(src as ArrayLike<number>, what, n, o, m), m, this.arena.heap, dst);
      return;
    }
    const arrays = src as readonly Float32Array[];
    if (arrays.length === 0 || weights.length !== arrays.length) throw new RangeError(`${this.optimizer}: ${arrays.length} ${what} arrays with ${weights.length} weights`);
    const k = this.arena.kernels;
    copyInto(this.optimizer, what, this.rowsOf(arrays[0], what, n, o, m), m, this.arena.heap, dst);
    if (weights[0] !== 1) k.scaleBy(dst, m, weights[0]);
    if (arrays.length === 1) return;
    // The other arrays' floats go through a scratch of n floats, made at the first sum of several.
    if (this.scratch === 0) this.scratch = this.arena.heap.alloc(n * 4);
    for (let i = 1; i < arrays.length; i++) {
      copyInto(this.optimizer, what, this.rowsOf(arrays[i], what, n, o, m), m, this.arena.heap, this.scratch);
      k.addScaled(dst, this.scratch, m, weights[i]);
    }
  }

  /**
   * The m floats from o on of an array of every row (n floats), or the array
   * itself when it holds those m floats only (or every row is stepped); its
   * length checked first (copyInto checks the part's).
   */
  private rowsOf(a: ArrayLike<number>, what: string, n: number, o: number, m: number): ArrayLike<number> {
    if (a === null || typeof a !== "object" || m === n || a.length === m) return a;
    if (a.length !== n) throw new RangeError(`${this.optimizer}: ${what} has ${a.length} values, expected ${n} (every row) or ${m} (the rows stepped)`);
    return a instanceof Float32Array ? a.subarray(o, o + m) : Array.prototype.slice.call(a, o, o + m) as number[];
  }

  /** Copies rows [start, end) of `src` (a parameter of the same shape and optimizer): weights and optimizer state; the zero rows are counted again. */
  copyRows(src: DenseParam, start: number, end: number): void {
    this.live();
    src.live();
    if (src.rows !== this.rows || src.rowLength !== this.rowLength || src.stride !== this.stride) throw new RangeError(`${this.optimizer}: rows of a ${src.rows} x ${src.rowLength} parameter into a ${this.rows} x ${this.rowLength} one`);
    this.checkRows(start, end);
    const d = this.rowLength, from = src.arena.heap.u8, to = this.arena.heap.u8;
    // The zero rows of the range change from this parameter's count to the source's.
    const zerosIn = (p: DenseParam): number => {
      let z = 0;
      for (let r = start; r < end; r++) z += p.arena.heap.u32[(p.state + r * p.stride + H_FLAGS) >>> 2] & 1;
      return z;
    };
    this.zeros += zerosIn(src) - zerosIn(this);
    to.set(from.subarray(src.x + start * d * 4, src.x + end * d * 4), this.x + start * d * 4);
    to.set(from.subarray(src.state + start * this.stride, src.state + end * this.stride), this.state + start * this.stride);
  }

  /** Refuses rows [start, end) that are not integers within [0, rows). */
  private checkRows(start: number, end: number): void {
    if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= this.rows)) throw new RangeError(`${this.optimizer}: rows [${start}, ${end}) are not within [0, ${this.rows})`);
  }

  /** A copy of the weights, rows x rowLength. */
  weights(): Float32Array {
    this.live();
    return this.arena.heap.f32.slice(this.x >>> 2, (this.x >>> 2) + this.rows * this.rowLength);
  }

  /**
   * A live view of the weights without copying (of rows [start, end) only,
   * with `rows`). It is invalidated when the arena's memory grows (any
   * allocation in this arena): re-take it after.
   */
  view(rows?: { start: number; end: number }): Float32Array {
    this.live();
    const r0 = rows?.start ?? 0, r1 = rows?.end ?? this.rows, o = this.x >>> 2;
    if (rows) this.checkRows(r0, r1);
    return this.arena.heap.f32.subarray(o + r0 * this.rowLength, o + r1 * this.rowLength);
  }

  /** Byte address of the weights in the arena, for kernels of the same arena. */
  get address(): number { return this.x; }

  /** A copy of row r. */
  row(r: number): Float32Array {
    this.live();
    if (!Number.isInteger(r) || r < 0 || r >= this.rows) throw new RangeError(`${this.optimizer}: row ${r} is out of range [0, ${this.rows})`);
    const o = (this.x >>> 2) + r * this.rowLength;
    return this.arena.heap.f32.slice(o, o + this.rowLength);
  }

  /** True when every weight of row r is exactly 0.0. */
  isZeroRow(r: number): boolean {
    this.live();
    if (!Number.isInteger(r) || r < 0 || r >= this.rows) throw new RangeError(`${this.optimizer}: row ${r} is out of range [0, ${this.rows})`);
    return (this.arena.heap.u32[(this.state + r * this.stride + H_FLAGS) >>> 2] & 1) === 1;
  }

  /**
   * The weights, then each row's optimizer moments, as one float array (the
   * rows' headers left out): what several trainers' changes are merged on
   * (../cluster). See {@link setMergeable}.
   */
  mergeable(): Float32Array {
    this.live();
    const n = this.rows * this.rowLength, per = (this.stride - HEADER_BYTES) >>> 2, f = this.arena.heap.f32;
    const out = new Float32Array(n + this.rows * per);
    out.set(f.subarray(this.x >>> 2, (this.x >>> 2) + n));
    for (let r = 0; r < this.rows; r++) {
      const o = (this.state + r * this.stride + HEADER_BYTES) >>> 2;
      out.set(f.subarray(o, o + per), n + r * per);
    }
    return out;
  }

  /** Writes back a {@link mergeable} array (of this parameter's length); the zero rows are counted again. */
  setMergeable(v: Float32Array): void {
    this.live();
    const d = this.rowLength, n = this.rows * d, per = (this.stride - HEADER_BYTES) >>> 2, heap = this.arena.heap;
    if (v.length !== n + this.rows * per) throw new RangeError(`${this.optimizer}: ${v.length} floats for a parameter of ${n + this.rows * per}`);
    heap.f32.set(v.subarray(0, n), this.x >>> 2);
    this.zeros = 0;
    for (let r = 0; r < this.rows; r++) {
      heap.f32.set(v.subarray(n + r * per, n + (r + 1) * per), (this.state + r * this.stride + HEADER_BYTES) >>> 2);
      let zero = 1;
      for (let j = 0; j < d; j++) if (v[r * d + j] !== 0) { zero = 0; break; }
      const fl = (this.state + r * this.stride + H_FLAGS) >>> 2;
      heap.u32[fl] = (heap.u32[fl] & ~1) | zero;
      this.zeros += zero;
    }
  }

  /** Takes a step count reached with other trainers (../cluster: the steps of every worker of a run). */
  adoptStepCount(t: number): void {
    this.live();
    if (!Number.isSafeInteger(t) || t < 0) throw new RangeError(`${this.optimizer}: step count ${t} must be a non-negative integer`);
    this.t = t;
  }

  /**
   * Steps from now on with `hyper` in place of its own hyperparameters
   * (checked as at creation), or with its own again when undefined; `hyper`
   * and `save` keep its own. For a worker whose steps are stale, a momentum
   * compensated for it (../train/stale-momentum.ts).
   */
  setStepHyper(hyper: Hyperparams | undefined): void {
    this.live();
    const h = hyper === undefined ? this.hyper : resolveHyperparams(this.optimizer, { ...this.hyper, ...hyper });
    const next = new StepCall(this.arena, this.optimizer, h, this.rowLength, false);
    this.call.dispose();
    this.call = next;
  }

  /** The hyperparameters its steps take: its own, or those of setStepHyper. */
  get stepHyper(): ResolvedHyperparams { return this.call.hyper; }

  /** The complete state (weights, optimizer state, step) as bytes (over `into`, an earlier state's bytes no longer needed, where they fit; unsealed without `seal`: sealEnvelope); see `DenseParam.load`. */
  save(into?: Uint8Array, seal = true): Uint8Array {
    this.live();
    const heap = this.arena.heap;
    const xs = heap.u8.subarray(this.x, this.x + this.rows * this.rowLength * 4);
    const st = heap.u8.subarray(this.state, this.state + this.rows * this.stride);
    return encodeEnvelope(
      { kind: "dense", version: 1, optimizer: this.optimizer, hyper: this.hyper, rows: this.rows, rowLength: this.rowLength, step: this.t, zeroRows: this.zeros, recordBytes: this.stride },
      [xs, st], into, seal,
    );
  }

  /** Restores a parameter saved by `save`; continuing it equals never having stopped. */
  static load(bytes: Uint8Array, arena?: Arena): DenseParam {
    const what = "dense parameter state";
    const named = <T>(f: () => T): T => namedErrors(what, f);
    const { header: h, body } = decodeEnvelope(bytes, what);
    if (h.kind !== "dense" || h.version !== 1) throw new RangeError(`${what}: kind/version ${String(h.kind)}/${String(h.version)} is not dense/1`);
    if (!isOptimizerName(h.optimizer)) throw new RangeError(`${what}: unknown optimizer ${JSON.stringify(h.optimizer)}`);
    const name = h.optimizer;
    const hyper = named(() => resolveHyperparams(name, h.hyper as Record<string, never>));
    const rows = intField(h, "rows", what, 2 ** 30);
    const d = intField(h, "rowLength", what, MAX_ROW);
    const step = intField(h, "step", what, 2 ** 32 - 2);
    const zeroRows = intField(h, "zeroRows", what, rows);
    const stride = intField(h, "recordBytes", what);
    const xBytes = rows * d * 4;
    if (body.length !== xBytes + rows * stride) {
      throw new RangeError(`${what}: body has ${body.length} bytes, the header implies ${xBytes + rows * stride}`);
    }
    const init = new Float32Array(body.slice(0, xBytes).buffer);
    const p = named(() => new DenseParam(name, hyper, init, { rows, rowLength: d }, arena));
    if (p.stride !== stride) {
      p.dispose();
      throw new RangeError(`${what}: record size ${stride} does not match ${p.stride} of ${h.optimizer}`);
    }
    const heap = p.arena.heap;
    heap.u8.set(body.subarray(xBytes), p.state);
    let zeros = 0;
    for (let r = 0; r < rows; r++) {
      // A row's record header must agree with its weights and the step (the
      // kernels index the bias-correction table by its last step and count).
      const rec = p.state + r * stride, u = heap.u32;
      const flags = u[(rec + H_FLAGS) >>> 2], tau = u[(rec + H_TAU) >>> 2], count = u[(rec + H_COUNT) >>> 2];
      let zero = 1;
      for (let j = 0; j < d; j++) if (init[r * d + j] !== 0) { zero = 0; break; }
      if (flags !== zero || tau > step || count > step) {
        p.dispose();
        throw new RangeError(`${what}: row ${r} has zero flag ${flags}, last step ${tau} and ${count} updates, which do not fit its ${zero ? "zero" : "non-zero"} weights and step ${step}`);
      }
      // Weights, the last learning rate and the moments must be numbers: a NaN would spread through every later step.
      const bad = nonFiniteIn(heap.f32, (rec + 4) >>> 2, 1) ?? nonFiniteIn(heap.f32, (rec + HEADER_BYTES) >>> 2, (stride - HEADER_BYTES) >>> 2) ?? nonFiniteIn(init, r * d, d);
      if (bad !== undefined) {
        p.dispose();
        throw new RangeError(`${what}: row ${r} holds a non-finite value (${bad}) in its weights or optimizer state`);
      }
      zeros += zero;
    }
    if (zeros !== zeroRows) {
      p.dispose();
      throw new RangeError(`${what}: ${zeros} rows are flagged zero, the header says ${zeroRows}`);
    }
    p.t = step;
    p.zeros = zeros;
    return p;
  }

  /** Frees the arena memory this parameter holds. */
  dispose(): void {
    if (this.disposed) return;
    const heap = this.arena.heap;
    heap.release(this.x);
    heap.release(this.state);
    heap.release(this.grad);
    if (this.hess) heap.release(this.hess);
    if (this.scratch) heap.release(this.scratch);
    this.call.dispose();
    this.disposed = true;
  }

  private live(): void {
    if (this.disposed) throw new Error(`${this.optimizer}: the parameter was disposed`);
  }
}

function firstNonFinite(a: Float32Array): number {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return i;
  return -1;
}

function describe(v: unknown): string {
  if (v instanceof Float32Array) return `${v.length} floats`;
  return v === null ? "null" : typeof v === "object" ? (v as object).constructor.name : typeof v;
}

/** The first non-finite of a[o .. o+n), or undefined. */
export function nonFiniteIn(a: Float32Array, o: number, n: number): number | undefined {
  for (let i = o; i < o + n; i++) if (!Number.isFinite(a[i])) return a[i];
  return undefined;
}
