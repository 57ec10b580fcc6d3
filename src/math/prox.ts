/**
 * The closed-form proximal step of Algorithm 1, shared by every rule.
 *
 * Given the dual accumulator z_t and the preconditioner P_t of one group (row)
 * of d coordinates:
 *
 *   s_i     = 0                     if |z_i| <= l1
 *           = sign(z_i) l1 - z_i    otherwise
 *   k       = max(1 - sqrt(d) l21 / ||n||_2, 0)
 *   x_{t+1} = k s / (P_t + 2 l2)
 *
 * where n is the norm source chosen by `l21Norm`:
 *   raw    n = s (the paper's practical Algorithm 1, the default);
 *   scaled n = s / sqrt(P_t/2 + l2): with it the step is the exact minimiser of
 *          Eq. (6), whose group term is l21 sqrt(d) ||A_t^(1/2) x||,
 *          A_t = diag(P_t/2 + l2) (see docs/optimizers.md for the derivation);
 *   eq10   n = s / (P_t/2 + l2), Eq. (10) of the paper as printed; it equals
 *          "scaled" only when P_t/2 + l2 = 1 for every coordinate.
 *
 * Scalar float32 reference; the kernels use the same operations in the same order.
 */
const f = Math.fround;

/** s_i of Eq. (9): minus the soft-threshold of z at l1. */
export function softThreshold(z: number, l1: number): number {
  return Math.abs(z) > l1 ? f((z < 0 ? -l1 : l1) - z) : 0;
}

/** The element of the norm source n for mode 0 (raw), 1 (scaled), 2 (eq10). */
export function normTerm(s: number, P: number, l2: number, mode: number): number {
  if (mode === 1) return f(s / f(Math.sqrt(f(f(P * 0.5) + l2))));
  if (mode === 2) return f(s / f(f(P * 0.5) + l2));
  return s;
}

/** The group shrink factor k from the squared norm of n and thr = sqrt(d) l21. */
export function shrinkFactor(sumSq: number, thr: number): number {
  if (!(thr > 0)) return 1;
  const nrm = f(Math.sqrt(sumSq));
  return nrm <= thr ? 0 : f(1 - f(thr / nrm));
}

/** x_{t+1} for one coordinate; a zeroed group is +0.0 everywhere (never -0.0). */
export function proxWeight(s: number, k: number, den: number): number {
  return k === 0 ? 0 : f(f(s * k) / den);
}
