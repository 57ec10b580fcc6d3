// The closed-form proximal step of Algorithm 1 (src/math/prox.ts) over a
// whole variable, with tfjs ops:
//
//   s_i     = 0 if |z_i| <= l1, else sign(z_i) l1 - z_i
//   k       = max(1 - sqrt(d) l21 / ||n||_2, 0)       per group (row) of d entries
//   x_{t+1} = k s / (P_t + 2 l2)                      (+0.0 where k = 0)
//
// n is s ("raw"), s / sqrt(P_t/2 + l2) ("scaled") or s / (P_t/2 + l2) ("eq10").
// The elementwise operations are those of the reference, in its order; only
// the group's sum of squares is a tfjs reduction, whose summation order is the
// backend's (sparsectr sums in four float32 lanes), so k may differ from
// sparsectr's in its last bits.
import { abs, add, div, greater, mul, reshape, sign, sqrt, square, sub, sum, where, type Tensor } from "@tensorflow/tfjs-core";
import type { L21Norm, ResolvedHyperparams } from "../optim/hyper.js";

const f = Math.fround;

/** The regularisers of one variable as float32 numbers. */
export interface ProxConstants {
  l1: number;
  l2: number;
  /** 2 l2: the regulariser is l2 ||x||^2. */
  l2x2: number;
  /** sqrt(d) l21, the group threshold. */
  thr: number;
  norm: L21Norm;
}

/** The constants for groups of d entries, rounded as src/optim/call.ts rounds them. */
export function proxConstants(h: Readonly<ResolvedHyperparams>, d: number): ProxConstants {
  return { l1: f(h.l1), l2: f(h.l2), l2x2: f(2 * h.l2), thr: f(Math.sqrt(d) * h.l21), norm: h.l21Norm };
}

/**
 * x_{t+1} from z_t and P_t (a tensor of z's shape, or a scalar) for a variable
 * read as [rows, d] groups. Returns a tensor of z's shape.
 */
export function proxStep(z: Tensor, P: Tensor, rows: number, d: number, p: ProxConstants): Tensor {
  const s = where(greater(abs(z), p.l1), sub(mul(sign(z), p.l1), z), 0);
  const den = add(P, p.l2x2);
  // Without l21, k = 1 and the step is s / den exactly (s k = s).
  if (!(p.thr > 0)) return div(s, den);
  const n = p.norm === "raw" ? s : div(s, p.norm === "scaled" ? sqrt(add(mul(P, 0.5), p.l2)) : add(mul(P, 0.5), p.l2));
  const nrm = sqrt(sum(reshape(square(n), [rows, d]), 1, true));
  // nrm <= thr gives k = 0, as does 1 - thr/nrm rounding to 0.
  const k = where(greater(nrm, p.thr), sub(1, div(p.thr, nrm)), 0);
  const s2 = reshape(s, [rows, d]);
  const x = div(mul(s2, k), den.rank === 0 ? den : reshape(den, [rows, d]));
  // s k is -0.0 where s < 0 and k = 0: a pruned group is written as +0.0.
  return reshape(where(greater(k, 0), x, 0), z.shape);
}
