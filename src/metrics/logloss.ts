/**
 * Log loss (binary cross-entropy) of predicted click probabilities.
 *
 * Clipping: each probability is clipped into [eps, 1 - eps] before the
 * logarithm (default eps = 1e-15, scikit-learn's historical default), so a
 * confident wrong prediction costs at most -ln(1e-15) = 34.5 instead of
 * infinity. Probabilities outside [0, 1] or NaN are errors, not clipped: they
 * mean a bug upstream. Sums are compensated (Neumaier), so the mean over
 * hundreds of millions of rows keeps full double precision.
 */
import { checkLabel } from "./auc.js";

/** Default clipping of probabilities. */
export const LOGLOSS_EPS = 1e-15;

/** Neumaier's compensated sum. */
export class CompensatedSum {
  private sum = 0;
  private comp = 0;

  add(x: number): void {
    const t = this.sum + x;
    // An infinite term (log loss of p = 0 without clipping) makes the sum infinite, not NaN.
    if (Number.isFinite(t)) this.comp += Math.abs(this.sum) >= Math.abs(x) ? this.sum - t + x : x - t + this.sum;
    this.sum = t;
  }

  get value(): number {
    return this.sum + this.comp;
  }
}

/** Streaming log loss: add rows one at a time or in batches, read the mean at any point. */
export class LoglossAccumulator {
  private readonly total = new CompensatedSum();
  private n = 0;

  /** @param eps clipping (0 to disable; must be below 0.5). */
  constructor(private readonly eps = LOGLOSS_EPS) {
    if (!(eps >= 0 && eps < 0.5)) throw new RangeError(`logloss: eps ${eps} must be in [0, 0.5)`);
  }

  /** Rows seen. */
  get count(): number {
    return this.n;
  }

  add(p: number, label: number): void {
    if (!(p >= 0 && p <= 1)) throw new RangeError(`logloss: probability ${p} (row ${this.n}) is not in [0, 1]`);
    checkLabel(label, this.n);
    const e = this.eps, c = p < e ? e : p > 1 - e ? 1 - e : p;
    this.total.add(label === 1 ? -Math.log(c) : -Math.log(1 - c));
    this.n++;
  }

  addBatch(p: ArrayLike<number>, labels: ArrayLike<number>): void {
    if (p.length !== labels.length) throw new RangeError(`logloss: ${p.length} probabilities but ${labels.length} labels`);
    for (let i = 0; i < p.length; i++) this.add(p[i], labels[i]);
  }

  /** Mean log loss of the rows so far. */
  value(): number {
    if (this.n === 0) throw new RangeError("logloss: no rows");
    return this.total.value / this.n;
  }
}

/**
 * Mean log loss of probabilities p against 0/1 labels, p clipped into
 * [eps, 1 - eps]. Throws when the lengths differ, a label is not 0 or 1, a
 * probability is outside [0, 1], or there are no rows.
 */
export function logloss(p: ArrayLike<number>, labels: ArrayLike<number>, eps = LOGLOSS_EPS): number {
  const acc = new LoglossAccumulator(eps);
  acc.addBatch(p, labels);
  return acc.value();
}
