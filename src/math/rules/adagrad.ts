import { R_ADAGRAD } from "./ids.js";
import type { MomentRule } from "./rule.js";

const f = Math.fround;

/**
 * Adagrad (Duchi et al., 2011); with l21 = 0 its group form is FTRL-Proximal
 * (McMahan et al., 2013).
 *
 *   m_t = g_t,  V_t = V_{t-1} + g_t^2 with V_0 = epsilon + initialAccumulator,
 *   P_t = sqrt(V_t) / alpha
 *
 * Plain form: x_{t+1} = x_t - alpha g_t / sqrt(V_t) (epsilon inside the root,
 * as the paper; PyTorch adds it outside). Slots: V.
 */
export const adagrad: MomentRule = {
  id: R_ADAGRAD,
  slots: ["V"],
  group(c, s, o, _ss, g, _h, out) {
    const V = s[o];
    const V2 = f((c.first ? c.agInit : V) + f(g * g));
    s[o] = V2;
    out.mt = g;
    out.P = f(f(Math.sqrt(V2)) / c.alpha);
    out.Pp = c.first ? 0 : f(f(Math.sqrt(V)) / c.alphaP);
  },
  plain(c, s, o, _ss, x, g) {
    const V2 = f((c.first ? c.agInit : s[o]) + f(g * g));
    s[o] = V2;
    return f(x - f(f(c.alpha * g) / f(Math.sqrt(V2))));
  },
};
