import { R_ADAM } from "./ids.js";
import type { MomentRule, RowContext } from "./rule.js";

const f = Math.fround;

/** (sqrt(v * c) + eps) / alpha, the Adam-family preconditioner. */
export function adamP(v: number, c: number, eps: number, alpha: number): number {
  return f(f(f(Math.sqrt(f(v * c))) + eps) / alpha);
}

/** m_hat and v_hat of Adam from the gradient q used for the second moment. */
export function adamMoments(c: RowContext, s: Float32Array, o: number, ss: number, g: number, q: number): void {
  s[o] = f(f(c.b1 * s[o]) + f(c.omb1 * g));
  s[o + ss] = f(f(c.b2 * s[o + ss]) + f(c.omb2 * f(q * q)));
}

/**
 * Adam (Kingma and Ba, 2015).
 *
 *   mh_t = b1 mh_{t-1} + (1 - b1) g_t          m_t = mh_t / (1 - b1^t)
 *   vh_t = b2 vh_{t-1} + (1 - b2) g_t^2        V_t = vh_t / (1 - b2^t)
 *   P_t  = (sqrt(V_t) + eps) / alpha
 *
 * Plain form: x_{t+1} = x_t - alpha m_t / (sqrt(V_t) + eps).
 * Slots: mh, vh.
 */
export const adam: MomentRule = adamFamily(R_ADAM, false);

/**
 * The Adam update with the second moment fed by g_t (Adam) or by the
 * Hessian input h_t (AdaHessian): the one difference between the two.
 */
export function adamFamily(id: number, hessian: boolean): MomentRule {
  return {
    id,
    slots: ["m", "v"],
    group(c, s, o, ss, g, h, out) {
      const v = s[o + ss];
      adamMoments(c, s, o, ss, g, hessian ? h : g);
      out.mt = f(s[o] * c.c1);
      out.P = adamP(s[o + ss], c.c2, c.eps, c.alpha);
      out.Pp = c.first ? 0 : adamP(v, c.c2p, c.eps, c.alphaP);
    },
    plain(c, s, o, ss, x, g, h) {
      adamMoments(c, s, o, ss, g, hessian ? h : g);
      const step = f(c.alpha * f(s[o] * c.c1));
      return f(x - f(step / f(f(Math.sqrt(f(s[o + ss] * c.c2))) + c.eps)));
    },
  };
}
