/**
 * Finite-difference gradient checks for layers and models: compares the
 * analytic gradients of the scalar L = sum_i w_i y_i (w a seeded random
 * projection of the outputs y) with central differences, in float64.
 */
import { Random } from "./random.js";

/** A perturbed array and how to read its analytic gradient after backward. */
export interface GradCheckVar {
  name: string;
  /** Perturbed in place (and restored) by the check. */
  value: Float32Array;
  /** The analytic gradient, read right after each backward call. */
  grad: () => Float32Array;
}

/** The function under test. */
export interface GradCheckRun {
  /** Computes the outputs from the current values (must be deterministic: fix dropout masks). */
  forward: () => Float32Array;
  /** Back-propagates dy (same length as the outputs). */
  backward: (dy: Float32Array) => void;
}

/** Tolerances of {@link gradCheck}. */
export interface GradCheckOptions {
  /** Finite-difference step; default 1e-3. */
  step?: number;
  /** Relative tolerance; default 2e-3. */
  rtol?: number;
  /** Absolute tolerance as a fraction of the largest |analytic gradient| of the variable; default 5e-4. */
  atol?: number;
  /** At most this many elements per variable (a seeded sample); default all. */
  maxChecks?: number;
  /** Seed of the projection and of the sample; default 1. */
  seed?: number;
}

/** Outcome for one variable. */
export interface GradCheckResult {
  name: string;
  checked: number;
  /** Elements skipped because L is not differentiable there (one-sided slopes disagree, e.g. a ReLU kink). */
  skipped: number;
  /** Descriptions of the elements whose gradients disagree. */
  failures: string[];
}

/**
 * Checks every variable's analytic gradient. An element passes when
 * |numeric - analytic| <= rtol * max(|numeric|, |analytic|) + atol * max|analytic|.
 * A mismatching element whose forward and backward one-sided slopes also
 * disagree by more than that tolerance sits on a kink; it is skipped, not failed.
 */
export function gradCheck(run: GradCheckRun, vars: GradCheckVar[], opts: GradCheckOptions = {}): GradCheckResult[] {
  const h = opts.step ?? 1e-3, rtol = opts.rtol ?? 2e-3, atolRel = opts.atol ?? 5e-4;
  const rnd = new Random(opts.seed ?? 1);
  const y0 = run.forward();
  const w = new Float32Array(y0.length);
  for (let i = 0; i < w.length; i++) w[i] = rnd.nextFloat() * 2 - 1;
  const loss = (): number => {
    const y = run.forward();
    let s = 0;
    for (let i = 0; i < y.length; i++) s += w[i] * y[i];
    return s;
  };
  const l0 = loss();
  run.backward(w);
  const analytic = vars.map((v) => v.grad().slice());
  return vars.map((v, vi) => {
    const g = analytic[vi], x = v.value;
    if (g.length !== x.length) return { name: v.name, checked: 0, skipped: 0, failures: [`gradient has ${g.length} elements, value ${x.length}`] };
    let gmax = 0;
    for (let i = 0; i < g.length; i++) gmax = Math.max(gmax, Math.abs(g[i]));
    const atol = atolRel * gmax + 1e-7;
    const res: GradCheckResult = { name: v.name, checked: 0, skipped: 0, failures: [] };
    for (const i of sample(x.length, opts.maxChecks ?? Infinity, rnd)) {
      const orig = x[i];
      x[i] = orig + h;
      const xp = x[i], lp = loss();
      x[i] = orig - h;
      const xm = x[i], lm = loss();
      x[i] = orig;
      const num = (lp - lm) / (xp - xm), ana = g[i];
      const tol = rtol * Math.max(Math.abs(num), Math.abs(ana)) + atol;
      res.checked++;
      if (Math.abs(num - ana) <= tol) continue;
      const slopeUp = (lp - l0) / (xp - orig), slopeDown = (l0 - lm) / (orig - xm);
      if (Math.abs(slopeUp - slopeDown) > tol) res.skipped++;
      else res.failures.push(`${v.name}[${i}]: numeric ${num.toPrecision(6)} vs analytic ${ana.toPrecision(6)}`);
    }
    loss(); // leave the run's buffers as for the unperturbed values
    return res;
  });
}

/** All indices when n <= k, otherwise k distinct indices drawn by a partial Fisher-Yates shuffle. */
function sample(n: number, k: number, rnd: Random): number[] {
  const idx = Array.from({ length: n }, (_, i) => i);
  if (k >= n) return idx;
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rnd.nextFloat() * (n - i));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx.slice(0, k).sort((a, b) => a - b);
}
