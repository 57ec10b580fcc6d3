import { serialization } from "@tensorflow/tfjs-core";
import { GroupOptimizer } from "./optimizer.js";
import type { GroupAdagradOptions, GroupAdamOptions, GroupAMSGradOptions, GroupMomentumOptions, GroupSGDOptions } from "./options.js";

/**
 * Group Adam: Adam's moments in Algorithm 1 with l1, l21 and l2. With every
 * regulariser at 0 it is Adam (`tf.train.adam` with the same epsilon).
 * Defaults: lr 1e-3, beta1 0.9, beta2 0.999, epsilon 1e-8.
 */
export class GroupAdam extends GroupOptimizer {
  /** The name tfjs's serialization registry knows this class by. */
  static readonly className = "GroupAdam";
  constructor(options: GroupAdamOptions = {}) {
    super("adam", options);
  }
}

/**
 * Group AMSGrad: Group Adam with the running maximum of the second moment.
 * tfjs has no built-in AMSGrad. Defaults as GroupAdam.
 */
export class GroupAMSGrad extends GroupOptimizer {
  static readonly className = "GroupAMSGrad";
  constructor(options: GroupAMSGradOptions = {}) {
    super("amsgrad", options);
  }
}

/**
 * Group Adagrad; with l21 = 0 it is FTRL-Proximal (McMahan et al. 2013), so
 * it is exported as `SparseGroupFtrl` too. V_0 = epsilon + initialAccumulator,
 * inside the square root. Defaults: lr 1e-2, epsilon 1e-10, initialAccumulator 0.
 */
export class GroupAdagrad extends GroupOptimizer {
  static readonly className = "GroupAdagrad";
  constructor(options: GroupAdagradOptions = {}) {
    super("adagrad", options);
  }
}

/** GroupAdagrad under the paper's FTRL name: the same class. */
export const SparseGroupFtrl = GroupAdagrad;
/** GroupAdagrad under the paper's FTRL name: the same class. */
export type SparseGroupFtrl = GroupAdagrad;

/**
 * Group Momentum: heavy-ball momentum (no dampening) in Algorithm 1. With
 * every regulariser at 0 it is `tf.train.momentum`. Defaults: lr 1e-2, momentum 0.9.
 */
export class GroupMomentum extends GroupOptimizer {
  static readonly className = "GroupMomentum";
  constructor(options: GroupMomentumOptions = {}) {
    super("momentum", options);
  }
}

/**
 * Group SGD with the paper's step alpha / sqrt(t) (P_t = sqrt(t)/alpha);
 * constant-step SGD (`tf.train.sgd`) is GroupMomentum with momentum 0.
 * Default lr 1e-2.
 */
export class GroupSGD extends GroupOptimizer {
  static readonly className = "GroupSGD";
  constructor(options: GroupSGDOptions = {}) {
    super("sgd", options);
  }
}

// Registered so that a saved model config naming them restores them.
for (const cls of [GroupAdam, GroupAMSGrad, GroupAdagrad, GroupMomentum, GroupSGD]) serialization.registerClass(cls, "sparsectr");
