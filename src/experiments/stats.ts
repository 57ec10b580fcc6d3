/**
 * Statistics for comparing repeated runs (the paper reports means over 5 runs
 * and a t-test per cell): mean, sample standard deviation and Welch's
 * two-sample t-test (unequal variances) with its two-sided p-value from the
 * Student t distribution.
 */

/** Arithmetic mean. */
export function mean(xs: readonly number[]): number {
  if (xs.length === 0) throw new RangeError("mean of no values");
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Sample standard deviation (n - 1 in the denominator). */
export function sampleSd(xs: readonly number[]): number {
  if (xs.length < 2) throw new RangeError(`a standard deviation needs 2 or more values, got ${xs.length}`);
  const m = mean(xs);
  let s = 0;
  for (const x of xs) s += (x - m) ** 2;
  return Math.sqrt(s / (xs.length - 1));
}

/** Result of Welch's t-test of mean(a) - mean(b). */
export interface WelchResult {
  t: number;
  /** Welch-Satterthwaite degrees of freedom. */
  df: number;
  /** Two-sided p-value. */
  p: number;
  meanA: number;
  meanB: number;
}

/**
 * Welch's t-test: t = (mean(a) - mean(b)) / sqrt(va/na + vb/nb), df by
 * Welch-Satterthwaite, p = P(|T_df| >= |t|). Equal samples with zero variance
 * give t = 0, p = 1; different constant samples give p = 0.
 */
export function welchTTest(a: readonly number[], b: readonly number[]): WelchResult {
  const ma = mean(a), mb = mean(b);
  const va = sampleSd(a) ** 2 / a.length, vb = sampleSd(b) ** 2 / b.length;
  const se2 = va + vb;
  if (se2 === 0) return { t: ma === mb ? 0 : Math.sign(ma - mb) * Infinity, df: a.length + b.length - 2, p: ma === mb ? 1 : 0, meanA: ma, meanB: mb };
  const t = (ma - mb) / Math.sqrt(se2);
  const df = se2 * se2 / (va * va / (a.length - 1) + vb * vb / (b.length - 1));
  return { t, df, p: studentTwoSided(t, df), meanA: ma, meanB: mb };
}

/** P(|T| >= |t|) for Student's t with df degrees of freedom: I_{df/(df+t^2)}(df/2, 1/2). */
export function studentTwoSided(t: number, df: number): number {
  if (!(df > 0)) throw new RangeError(`degrees of freedom ${df} must be > 0`);
  if (!Number.isFinite(t)) return 0;
  return regularizedBeta(df / (df + t * t), df / 2, 0.5);
}

/** ln Gamma(x) for x > 0 (Lanczos approximation, g = 7, 9 terms; relative error ~1e-15). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  x -= 1;
  let s = c[0];
  for (let i = 1; i < 9; i++) s += c[i] / (x + i);
  const tt = x + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(tt) - tt + Math.log(s);
}

/**
 * The regularized incomplete beta function I_x(a, b), by its continued
 * fraction (evaluated with the modified Lentz method), using the symmetry
 * I_x(a, b) = 1 - I_{1-x}(b, a) where the fraction converges slowly.
 */
export function regularizedBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(a * Math.log(x) + b * Math.log(1 - x) - (logGamma(a) + logGamma(b) - logGamma(a + b)));
  if (x > (a + 1) / (a + b + 2)) return 1 - regularizedBeta(1 - x, b, a);
  return (front / a) * betaFraction(x, a, b);
}

function betaFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300, eps = 1e-15;
  let c = 1, d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let f = d;
  for (let m = 1; m <= 500; m++) {
    // Even step: d_{2m} = m (b - m) x / ((a + 2m - 1)(a + 2m)).
    let num = (m * (b - m) * x) / ((a + 2 * m - 1) * (a + 2 * m));
    d = 1 + num * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + num / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    f *= d * c;
    // Odd step: d_{2m+1} = -(a + m)(a + b + m) x / ((a + 2m)(a + 2m + 1)).
    num = (-(a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 2 * m + 1));
    d = 1 + num * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + num / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    f *= delta;
    if (Math.abs(delta - 1) < eps) return f;
  }
  throw new Error(`incomplete beta: no convergence for x=${x}, a=${a}, b=${b}`);
}
