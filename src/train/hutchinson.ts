/**
 * Hutchinson's estimate of the Hessian diagonal, for AdaHessian (Yao et al.,
 * "ADAHESSIAN: An Adaptive Second Order Optimizer for Machine Learning",
 * AAAI 2021).
 *
 * For a Rademacher vector v (independent ±1 entries), E[v ⊙ (H v)] = diag(H),
 * because E[v_i v_j] = δ_ij. One draw per step gives AdaHessian's D, which
 * the optimizer squares into its second moment (vh = b2 vh + (1 − b2) D²).
 *
 * The Hessian-vector product is a central difference of two gradients,
 *
 *     H v ≈ (g(x + h v) − g(x − h v)) / (2h),
 *
 * where x is every value trained by the step: the embedding rows of the
 * batch (as the model sees them, one copy per input position) and every
 * dense parameter. Each estimate costs two extra forward + backward passes;
 * the inputs and dense weights are perturbed in place and restored bit for
 * bit afterwards, and the model is reseeded with the same seed before every
 * pass so that all passes see the same dropout masks (otherwise the
 * difference would measure the change of mask, not the curvature).
 *
 * Step h: a fixed absolute {@link DEFAULT_FD_STEP} = 1e-2. The gradients are
 * float32, so the rounding error of the difference grows like
 * ε_f32·|g|/h (ε ≈ 6e-8, times the accumulation of a batch: ~1e-6·|g|/h)
 * while the truncation error of the central difference grows like
 * h²·|∂³L|; h ≈ ε^(1/3) ≈ 1e-2 balances the two (relative error ~1e-4).
 * A step relative to the values' scale does not work here: embedding rows
 * start at ~1e-4 (and group lasso sets many to exactly 0), which would give
 * h ≈ 1e-7 and a difference lost in float32 rounding. The curvature of the
 * loss does not scale with the size of the weights, so an absolute step is
 * the right unit.
 *
 * Duplicate keys: v is drawn per (table, feature key, column), not per input
 * position, so every position that reads the same row gets the same sign.
 * The perturbation x ± h v is therefore a perturbation of the table rows
 * themselves, and for a row w read at positions j ∈ J,
 *
 *     Σ_{j∈J} v_j (H v)_j = v_w · Σ_{j∈J} (H v)_j = v_w · (H_rows v)_w,
 *
 * since the row's gradient is the sum of its positions' gradients. The
 * table sums `hessian` over duplicate positions exactly as it sums
 * gradients, so the row receives the Hutchinson estimate for the row value,
 * whose expectation is the row's true Hessian diagonal including the
 * cross terms ∂²L/∂x_j∂x_l between positions of the same row. (Independent
 * signs per position would lose those cross terms: E = Σ_j H_jj only.)
 *
 * Everything is deterministic: the signs are a hash of (seed, step, table,
 * key, column) or (seed, step, parameter, element), and the passes run in a
 * fixed order.
 */
import type { Model } from "../models/types.js";
import type { Param } from "../nn/param.js";
import { sigmoidLogLoss } from "../nn/loss.js";
import { fmix32 } from "../util/fmix32.js";
import { ruleUsesHessian } from "../optim/checks.js";
import type { OptimizerName } from "../optim/hyper.js";

/** The default finite-difference step h (absolute; see the module notes). */
export const DEFAULT_FD_STEP = 1e-2;

const GOLDEN = 0x9e3779b9;

/** Per-input and per-parameter arrays, same layout as the model's gradients. */
export interface TrainedArrays {
  /** One array per model input: batch x fields x rowLength. */
  inputs: Float32Array[];
  /** One array per dense parameter (in `model.params()` order). */
  params: Float32Array[];
}

/** Whether a model's rules take the Hessian estimate: AdaHessian in its tables (`optimizer`) or in a dense layer. */
export function needsHessian(optimizer: OptimizerName, dense: readonly { readonly optimizer: OptimizerName }[]): boolean {
  return ruleUsesHessian(optimizer) || dense.some((d) => ruleUsesHessian(d.optimizer));
}

/** The seed of one training step: of its dropout masks and its Rademacher draw. */
export function stepSeed(seed: number, step: number): number {
  return fmix32((seed >>> 0) ^ fmix32(Math.imul(step >>> 0, GOLDEN) + 0x7f4a7c15));
}

/**
 * Rademacher signs for the inputs of a batch: `v[k][(pos) * d + c]` is ±1, a
 * hash of (seed, table k, the key at position pos, column c). Positions with
 * the same key (in one table) get the same signs. `keys` holds
 * `batch x fields` feature keys (as in `Batch.keys`).
 */
export function rademacherInputs(
  keys: BigUint64Array, rowLengths: readonly number[], positions: number, seed: number,
  out?: Float32Array[],
): Float32Array[] {
  if (keys.length < positions) throw new RangeError(`rademacherInputs: ${keys.length} keys for ${positions} positions`);
  const words = new Uint32Array(keys.buffer, keys.byteOffset, positions * 2);
  const s = fmix32((seed >>> 0) ^ 0x5bd1e995);
  return rowLengths.map((d, k) => {
    const v = out?.[k]?.length === positions * d ? out[k] : new Float32Array(positions * d);
    const tk = fmix32(s + Math.imul(k + 1, GOLDEN));
    for (let p = 0; p < positions; p++) {
      const hk = fmix32(fmix32(tk ^ words[2 * p]) ^ words[2 * p + 1]);
      for (let c = 0; c < d; c++) v[p * d + c] = fmix32(hk + Math.imul(c + 1, GOLDEN)) & 1 ? 1 : -1;
    }
    return v;
  });
}

/** Rademacher signs for every dense parameter: a hash of (seed, parameter index, element). */
export function rademacherParams(params: readonly Param[], seed: number, out?: Float32Array[]): Float32Array[] {
  const s = fmix32((seed >>> 0) ^ 0x27d4eb2f);
  return params.map((p, i) => {
    const n = p.value.length;
    const v = out?.[i]?.length === n ? out[i] : new Float32Array(n);
    const b = fmix32(s + Math.imul(i + 1, GOLDEN));
    for (let e = 0; e < n; e++) v[e] = fmix32(b + Math.imul(e + 1, GOLDEN)) & 1 ? 1 : -1;
    return v;
  });
}

/** Options of {@link hessianVectorProduct}. */
export interface HvpOptions {
  /** Finite-difference step (default {@link DEFAULT_FD_STEP}). */
  h?: number;
  /** Seed given to `model.reseed` before each pass (same dropout masks in both). */
  dropoutSeed?: number;
}

/**
 * H v of the mean log loss of a batch with respect to the model's inputs and
 * dense parameters, by the central difference
 * (g(x + h v) − g(x − h v)) / (2h), with two forward + backward passes in
 * training mode. `inputs` and every parameter's value are perturbed in place
 * and restored bit for bit before returning; parameter grads and the model's
 * internal buffers are overwritten (run the real pass afterwards).
 */
export function hessianVectorProduct(
  model: Model, inputs: readonly Float32Array[], labels: ArrayLike<number>, batch: number,
  v: TrainedArrays, opts: HvpOptions = {}, work?: HvpWork,
): TrainedArrays {
  const h = opts.h ?? DEFAULT_FD_STEP;
  if (!(h > 0 && Number.isFinite(h))) throw new RangeError(`hessianVectorProduct: h must be a positive number, got ${h}`);
  const params = model.params();
  if (v.inputs.length !== inputs.length || v.params.length !== params.length) {
    throw new RangeError(`hessianVectorProduct: v has ${v.inputs.length} inputs and ${v.params.length} params, the model ${inputs.length} and ${params.length}`);
  }
  const w = work ?? new HvpWork();
  const x0 = w.sized("x0", inputs.map((a) => a.length)), p0 = w.sized("p0", params.map((p) => p.value.length));
  const hvIn = w.sized("hvIn", inputs.map((a) => a.length)), hvP = w.sized("hvP", params.map((p) => p.value.length));
  inputs.forEach((a, k) => x0[k].set(a));
  params.forEach((p, i) => p0[i].set(p.value));
  if (w.dlogits.length < batch) w.dlogits = new Float32Array(batch);
  try {
    for (const sign of [1, -1]) {
      const sh = sign * h;
      inputs.forEach((a, k) => { const x = x0[k], vk = v.inputs[k]; for (let i = 0; i < a.length; i++) a[i] = x[i] + sh * vk[i]; });
      params.forEach((p, i) => { const x = p0[i], vi = v.params[i], a = p.value; for (let e = 0; e < a.length; e++) a[e] = x[e] + sh * vi[e]; });
      if (opts.dropoutSeed !== undefined) model.reseed(opts.dropoutSeed);
      const logits = model.forward(inputs, batch, true);
      sigmoidLogLoss(logits, labels, batch, w.dlogits);
      const g = model.backward(w.dlogits, batch);
      // First pass: keep g(x + hv); second: finish (g+ − g−) / 2h.
      const scale = 1 / (2 * h);
      g.forEach((gk, k) => {
        const o = hvIn[k];
        if (sign > 0) o.set(gk);
        else for (let i = 0; i < o.length; i++) o[i] = (o[i] - gk[i]) * scale;
      });
      params.forEach((p, i) => {
        const o = hvP[i], gp = p.grad;
        if (sign > 0) o.set(gp);
        else for (let e = 0; e < o.length; e++) o[e] = (o[e] - gp[e]) * scale;
      });
    }
  } finally {
    inputs.forEach((a, k) => a.set(x0[k]));
    params.forEach((p, i) => p.value.set(p0[i]));
  }
  return { inputs: hvIn, params: hvP };
}

/** Reusable buffers of {@link hessianVectorProduct} (one per training run). */
export class HvpWork {
  dlogits = new Float32Array(0);
  private readonly bufs = new Map<string, Float32Array[]>();
  /** Arrays of the given lengths under a name, reused when the lengths match. */
  sized(name: string, lengths: readonly number[]): Float32Array[] {
    let b = this.bufs.get(name);
    if (!b || b.length !== lengths.length || b.some((a, i) => a.length !== lengths[i])) {
      b = lengths.map((n) => new Float32Array(n));
      this.bufs.set(name, b);
    }
    return b;
  }
}

/**
 * Computes AdaHessian's D = v ⊙ H v for one training step: draws v from
 * (seed of the step, keys) and runs {@link hessianVectorProduct} with the
 * model reseeded to `stepSeed` before each pass. The trainer reseeds again
 * before its own pass so that all three passes share the dropout masks.
 */
export class HutchinsonEstimator {
  private readonly work = new HvpWork();
  private vIn: Float32Array[] = [];
  private vP: Float32Array[] = [];

  constructor(readonly model: Model, readonly h: number = DEFAULT_FD_STEP) {
    if (!(h > 0 && Number.isFinite(h))) throw new RangeError(`HutchinsonEstimator: h must be a positive number, got ${h}`);
  }

  /**
   * D for a batch: per input position (same layout as the input gradients;
   * the table sums duplicates) and per dense parameter. The returned arrays
   * are reused by the next call.
   */
  estimate(keys: BigUint64Array, inputs: readonly Float32Array[], labels: ArrayLike<number>, batch: number, seed: number): TrainedArrays {
    const params = this.model.params();
    const positions = batch * this.model.inputs[0].fields;
    this.vIn = rademacherInputs(keys, this.model.inputs.map((i) => i.rowLength), positions, seed, this.vIn);
    this.vP = rademacherParams(params, seed, this.vP);
    const v = { inputs: this.vIn, params: this.vP };
    const hv = hessianVectorProduct(this.model, inputs, labels, batch, v, { h: this.h, dropoutSeed: seed }, this.work);
    hv.inputs.forEach((a, k) => { const s = v.inputs[k]; for (let i = 0; i < a.length; i++) a[i] *= s[i]; });
    hv.params.forEach((a, k) => { const s = v.params[k]; for (let i = 0; i < a.length; i++) a[i] *= s[i]; });
    return hv;
  }
}
