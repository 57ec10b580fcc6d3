import type { MomentRule } from "./rule.js";
import { sgd } from "./sgd.js";
import { momentum } from "./momentum.js";
import { adagrad } from "./adagrad.js";
import { adam } from "./adam.js";
import { amsgrad } from "./amsgrad.js";
import { adahessian } from "./adahessian.js";

/** Every moment rule, indexed by its kernel id (R_* in kernels/layout.ts). */
export const RULES: readonly MomentRule[] = [sgd, momentum, adagrad, adam, amsgrad, adahessian];

export type { MomentRule, RowContext, Moments } from "./rule.js";
