import { R_SGD } from "./ids.js";
import type { MomentRule } from "./rule.js";

const f = Math.fround;

/**
 * SGD with the step size alpha / sqrt(t) of the paper's Table 1 (constant-step
 * SGD is `momentum` with momentum 0).
 *
 *   m_t = g_t,  P_t = sqrt(t) / alpha
 *
 * Plain form: x_{t+1} = x_t - (alpha / sqrt(t)) g_t. No slots.
 */
export const sgd: MomentRule = {
  id: R_SGD,
  slots: [],
  group(c, _s, _o, _ss, g, _h, out) {
    out.mt = g;
    out.P = f(c.sqT / c.alpha);
    out.Pp = c.first ? 0 : f(c.sqTp / c.alphaP);
  },
  plain(c, _s, _o, _ss, x, g) {
    return f(x - f(f(c.alpha / c.sqT) * g));
  },
};
