/**
 * Platt scaling of a trained model's logits on its validation rows: the click
 * probability becomes sigmoid(scale * logit + bias), with (scale, bias)
 * minimising the validation log loss (Platt 1999; the calibration step of
 * production CTR systems). A positive scale keeps the order of the scores,
 * so AUC is unchanged; the log loss of a model that grew over-confident in
 * its last passes comes back to what its ranking allows.
 */
import type { DataFile } from "../data/types.js";
import { sigmoid } from "../nn/loss.js";

/** An affine map of the logits. */
export interface Calibration {
  scale: number;
  bias: number;
}

/** The identity map. */
export const NO_CALIBRATION: Readonly<Calibration> = Object.freeze({ scale: 1, bias: 0 });

/** The probabilities of n logits: out[o + i] = sigmoid(scale * logits[i] + bias). */
export function calibrated(c: Calibration, logits: ArrayLike<number>, n: number, out: Float64Array, o = 0): Float64Array {
  const { scale, bias } = c;
  for (let i = 0; i < n; i++) out[o + i] = sigmoid(scale * logits[i] + bias);
  return out;
}

/** log(1 + exp(z)) without overflow. */
function softplus(z: number): number {
  return z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
}

/** Mean log loss of sigmoid(a z + b) against labels y. */
export function calibratedLogloss(z: Float64Array, y: Float32Array, c: Calibration): number {
  let s = 0;
  for (let i = 0; i < z.length; i++) {
    const t = c.scale * z[i] + c.bias;
    s += y[i] > 0.5 ? softplus(-t) : softplus(t);
  }
  return s / Math.max(z.length, 1);
}

/**
 * The (scale, bias) of least log loss on logits z with 0/1 labels y: Newton's
 * method on the two-parameter convex problem, with a line search that only
 * takes steps which lower the loss. Falls back to the identity when the data
 * cannot fix a positive scale (one class only, or scores that do not rank).
 */
export function fitCalibration(z: Float64Array, y: Float32Array): Calibration {
  let pos = 0;
  for (let i = 0; i < y.length; i++) pos += y[i] > 0.5 ? 1 : 0;
  if (pos === 0 || pos === y.length) return { ...NO_CALIBRATION };
  let c: Calibration = { ...NO_CALIBRATION };
  let loss = calibratedLogloss(z, y, c);
  for (let it = 0; it < 100; it++) {
    // Gradient and Hessian of the summed loss in (a, b).
    let ga = 0, gb = 0, haa = 0, hab = 0, hbb = 0;
    for (let i = 0; i < z.length; i++) {
      const p = 1 / (1 + Math.exp(-(c.scale * z[i] + c.bias)));
      const r = p - (y[i] > 0.5 ? 1 : 0), w = p * (1 - p);
      ga += r * z[i]; gb += r;
      haa += w * z[i] * z[i]; hab += w * z[i]; hbb += w;
    }
    // A little ridge keeps the step defined when the scores barely vary.
    haa += 1e-9 * z.length; hbb += 1e-9 * z.length;
    const det = haa * hbb - hab * hab;
    if (!(det > 0)) break;
    const da = (hbb * ga - hab * gb) / det, db = (haa * gb - hab * ga) / det;
    let step = 1, next: Calibration | undefined, nextLoss = loss;
    for (let k = 0; k < 30; k++, step /= 2) {
      const cand = { scale: c.scale - step * da, bias: c.bias - step * db };
      const l = calibratedLogloss(z, y, cand);
      if (l < loss) { next = cand; nextLoss = l; break; }
    }
    if (next === undefined) break;
    const done = loss - nextLoss < 1e-12;
    c = next;
    loss = nextLoss;
    if (done) break;
  }
  return c.scale > 0 && Number.isFinite(c.scale) && Number.isFinite(c.bias) ? c : { ...NO_CALIBRATION };
}

/** A model's logits on every row of a file's range, with the labels. */
export async function collectLogits(
  logits: (b: import("../data/batch.js").Batch, out: Float64Array) => Float64Array,
  file: DataFile, range?: { start?: number; end?: number },
): Promise<{ z: Float64Array; y: Float32Array }> {
  const zs: Float64Array[] = [], ys: Float32Array[] = [];
  for await (const b of file.batches(range)) {
    zs.push(logits(b, new Float64Array(b.rows)));
    ys.push(b.labels.slice(0, b.rows));
  }
  const n = zs.reduce((s, a) => s + a.length, 0), z = new Float64Array(n), y = new Float32Array(n);
  let o = 0;
  zs.forEach((a, k) => { z.set(a, o); y.set(ys[k], o); o += a.length; });
  return { z, y };
}
