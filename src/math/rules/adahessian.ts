import { R_ADAHESSIAN } from "./ids.js";
import type { MomentRule } from "./rule.js";
import { adamMoments, adamP } from "./adam.js";

const f = Math.fround;

/**
 * AdaHessian (Yao et al., 2021): Adam whose second moment tracks the squared
 * Hessian diagonal estimate D_t instead of g_t^2.
 *
 *   vh_t = b2 vh_{t-1} + (1 - b2) D_t^2,  D_t = v * (H v), v Rademacher (Hutchinson)
 *
 * D_t is an input of each step (the models compute it). Slots: mh, vh.
 */
export const adahessian: MomentRule = {
  id: R_ADAHESSIAN,
  slots: ["m", "v"],
  group(c, s, o, ss, g, h, out) {
    const v = s[o + ss];
    adamMoments(c, s, o, ss, g, h);
    out.mt = f(s[o] * c.c1);
    out.P = adamP(s[o + ss], c.c2, c.eps, c.alpha);
    out.Pp = c.first ? 0 : adamP(v, c.c2p, c.eps, c.alphaP);
  },
  plain(c, s, o, ss, x, g, h) {
    adamMoments(c, s, o, ss, g, h);
    const step = f(c.alpha * f(s[o] * c.c1));
    return f(x - f(step / f(f(Math.sqrt(f(s[o + ss] * c.c2))) + c.eps)));
  },
};
