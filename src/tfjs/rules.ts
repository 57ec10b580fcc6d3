// The moment rules of src/math/rules/*.ts written with tfjs ops. Every
// elementwise operation is the same float32 operation, in the same order, as
// the reference rules (a tfjs op rounds each result to float32, as Math.fround
// does there), so on the CPU backend the moments and P_t agree bit for bit.
import { add, div, maximum, mul, scalar, sqrt, square, sub, type Tensor } from "@tensorflow/tfjs-core";
import type { ResolvedHyperparams } from "../optim/hyper.js";
import type { RowContext } from "../math/rules/rule.js";
import type { Family } from "./options.js";

const f = Math.fround;

/**
 * The float32 constants of one step (the per-step part of the reference
 * rules' RowContext), computed as sparsectr's StepCall (src/optim/call.ts)
 * computes them: bias corrections 1/(1-beta^t) in float64, then rounded once.
 */
export type StepConstants = Pick<RowContext, "alpha" | "c1" | "c2" | "sqT" | "b1" | "omb1" | "b2" | "omb2" | "eps" | "mom" | "agInit">;

/** The constants of global step t (1-based) at learning rate lr. */
export function stepConstants(h: Readonly<ResolvedHyperparams>, lr: number, t: number): StepConstants {
  return {
    alpha: f(lr),
    c1: f(1 / (1 - Math.pow(h.beta1, t))),
    c2: f(1 / (1 - Math.pow(h.beta2, t))),
    sqT: f(Math.sqrt(t)),
    b1: f(h.beta1),
    omb1: f(1 - h.beta1),
    b2: f(h.beta2),
    omb2: f(1 - h.beta2),
    eps: f(h.epsilon),
    mom: f(h.momentum),
    agInit: f(h.epsilon + h.initialAccumulator),
  };
}

/** A moment rule over whole tensors. */
export interface TensorRule {
  /** Moment slot names, as tfjs's built-in optimizers name theirs. */
  readonly moments: readonly string[];
  /** P_t is one number per variable (sgd, momentum): its slot is a scalar. */
  readonly scalarP: boolean;
  /** Initial value of moment slot i. */
  initial(i: number, c: StepConstants): number;
  /** Group form: the new moments, m_t and P_t of Algorithm 1. */
  group(c: StepConstants, m: Tensor[], g: Tensor): { moments: Tensor[]; mt: Tensor; P: Tensor };
  /** Plain (textbook primal) form: the new moments and the new weights. */
  plain(c: StepConstants, m: Tensor[], x: Tensor, g: Tensor): { moments: Tensor[]; x: Tensor };
}

const zero = (): number => 0;

function adamMoments(c: StepConstants, m: Tensor, v: Tensor, g: Tensor): [Tensor, Tensor] {
  return [add(mul(m, c.b1), mul(g, c.omb1)), add(mul(v, c.b2), mul(square(g), c.omb2))];
}

/** (sqrt(v c2) + eps) / alpha. */
function adamP(c: StepConstants, v: Tensor): Tensor {
  return div(add(sqrt(mul(v, c.c2)), c.eps), c.alpha);
}

/** x - alpha m c1 / (sqrt(v c2) + eps). */
function adamPlain(c: StepConstants, m: Tensor, v: Tensor, x: Tensor): Tensor {
  return sub(x, div(mul(mul(m, c.c1), c.alpha), add(sqrt(mul(v, c.c2)), c.eps)));
}

const RULES: Record<Family, TensorRule> = {
  // m_t = g, P_t = sqrt(t)/alpha.
  sgd: {
    moments: [],
    scalarP: true,
    initial: zero,
    group: (c, _m, g) => ({ moments: [], mt: g, P: scalar(f(c.sqT / c.alpha)) }),
    plain: (c, _m, x, g) => ({ moments: [], x: sub(x, mul(g, f(c.alpha / c.sqT))) }),
  },
  // m_t = gamma m_{t-1} + g, P_t = 1/alpha.
  momentum: {
    moments: ["momentum"],
    scalarP: true,
    initial: zero,
    group(c, [m], g) {
      const m2 = add(mul(m, c.mom), g);
      return { moments: [m2], mt: m2, P: scalar(f(1 / c.alpha)) };
    },
    plain(c, [m], x, g) {
      const m2 = add(mul(m, c.mom), g);
      return { moments: [m2], x: sub(x, mul(m2, c.alpha)) };
    },
  },
  // m_t = g, V_t = V_{t-1} + g^2 from V_0 = epsilon + initialAccumulator, P_t = sqrt(V_t)/alpha.
  adagrad: {
    moments: ["accumulator"],
    scalarP: false,
    initial: (_i, c) => c.agInit,
    group(c, [V], g) {
      const V2 = add(V, square(g));
      return { moments: [V2], mt: g, P: div(sqrt(V2), c.alpha) };
    },
    plain(c, [V], x, g) {
      const V2 = add(V, square(g));
      return { moments: [V2], x: sub(x, div(mul(g, c.alpha), sqrt(V2))) };
    },
  },
  // m_t = mh/(1-b1^t), V_t = vh/(1-b2^t), P_t = (sqrt(V_t) + eps)/alpha.
  adam: {
    moments: ["m", "v"],
    scalarP: false,
    initial: zero,
    group(c, [m, v], g) {
      const [m2, v2] = adamMoments(c, m, v, g);
      return { moments: [m2, v2], mt: mul(m2, c.c1), P: adamP(c, v2) };
    },
    plain(c, [m, v], x, g) {
      const [m2, v2] = adamMoments(c, m, v, g);
      return { moments: [m2, v2], x: adamPlain(c, m2, v2, x) };
    },
  },
  // Adam with V_t from the running maximum of vh.
  amsgrad: {
    moments: ["m", "v", "vmax"],
    scalarP: false,
    initial: zero,
    group(c, [m, v, vmax], g) {
      const [m2, v2] = adamMoments(c, m, v, g);
      const vmax2 = maximum(vmax, v2);
      return { moments: [m2, v2, vmax2], mt: mul(m2, c.c1), P: adamP(c, vmax2) };
    },
    plain(c, [m, v, vmax], x, g) {
      const [m2, v2] = adamMoments(c, m, v, g);
      const vmax2 = maximum(vmax, v2);
      return { moments: [m2, v2, vmax2], x: adamPlain(c, m2, vmax2, x) };
    },
  },
};

/** The tensor rule of a family. */
export function tensorRule(family: Family): TensorRule {
  return RULES[family];
}
