import { R_AMSGRAD } from "./ids.js";
import type { MomentRule } from "./rule.js";
import { adamMoments, adamP } from "./adam.js";

const f = Math.fround;

/**
 * AMSGrad (Reddi et al., 2018): Adam with a running maximum of the second moment.
 *
 *   mh_t, vh_t as Adam;  vmax_t = max(vmax_{t-1}, vh_t);  V_t = vmax_t / (1 - b2^t)
 *   P_t = (sqrt(V_t) + eps) / alpha
 *
 * Slots: mh, vh, vmax.
 */
export const amsgrad: MomentRule = {
  id: R_AMSGRAD,
  slots: ["m", "v", "vmax"],
  group(c, s, o, ss, g, _h, out) {
    const vmax = s[o + 2 * ss];
    adamMoments(c, s, o, ss, g, g);
    const vmax2 = Math.max(vmax, s[o + ss]);
    s[o + 2 * ss] = vmax2;
    out.mt = f(s[o] * c.c1);
    out.P = adamP(vmax2, c.c2, c.eps, c.alpha);
    out.Pp = c.first ? 0 : adamP(vmax, c.c2p, c.eps, c.alphaP);
  },
  plain(c, s, o, ss, x, g) {
    adamMoments(c, s, o, ss, g, g);
    const vmax2 = Math.max(s[o + 2 * ss], s[o + ss]);
    s[o + 2 * ss] = vmax2;
    const step = f(c.alpha * f(s[o] * c.c1));
    return f(x - f(step / f(f(Math.sqrt(f(vmax2 * c.c2))) + c.eps)));
  },
};
