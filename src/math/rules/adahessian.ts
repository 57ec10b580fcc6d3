import { R_ADAHESSIAN } from "./ids.js";
import type { MomentRule } from "./rule.js";
import { adamFamily } from "./adam.js";

/**
 * AdaHessian (Yao et al., 2021): Adam whose second moment tracks the squared
 * Hessian diagonal estimate D_t instead of g_t^2.
 *
 *   vh_t = b2 vh_{t-1} + (1 - b2) D_t^2,  D_t = v * (H v), v Rademacher (Hutchinson)
 *
 * D_t is an input of each step (the models compute it). Slots: mh, vh.
 */
export const adahessian: MomentRule = adamFamily(R_ADAHESSIAN, true);
