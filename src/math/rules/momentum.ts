import { R_MOMENTUM } from "./ids.js";
import type { MomentRule } from "./rule.js";

const f = Math.fround;

/**
 * Heavy-ball momentum (Polyak; PyTorch's SGD with momentum, no dampening).
 *
 *   m_t = gamma m_{t-1} + g_t,  P_t = 1 / alpha
 *
 * Plain form: x_{t+1} = x_t - alpha m_t. Slots: m.
 */
export const momentum: MomentRule = {
  id: R_MOMENTUM,
  slots: ["m"],
  group(c, s, o, _ss, g, _h, out) {
    const m2 = f(f(c.mom * s[o]) + g);
    s[o] = m2;
    out.mt = m2;
    out.P = f(1 / c.alpha);
    out.Pp = c.first ? 0 : f(1 / c.alphaP);
  },
  plain(c, s, o, _ss, x, g) {
    const m2 = f(f(c.mom * s[o]) + g);
    s[o] = m2;
    return f(x - f(c.alpha * m2));
  },
};
