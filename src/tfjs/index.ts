/**
 * sparsectr/tfjs: the sparse-group-lasso optimizers of sparsectr as
 * TensorFlow.js optimizers (`tf.Optimizer` subclasses) for any tfjs model and
 * backend. Needs `@tensorflow/tfjs-core` (>= 4) and a backend; the main
 * `sparsectr` entry point does not load tfjs. See docs/tfjs.md.
 */
export { GroupAdam, GroupAMSGrad, GroupAdagrad, SparseGroupFtrl, GroupMomentum, GroupSGD } from "./classes.js";
export { GroupOptimizer, type NamedTensor } from "./optimizer.js";
export { groupShape, zeroGroups, type VectorGroups } from "./groups.js";
export type {
  GroupOptionsBase, GroupSGDOptions, GroupMomentumOptions, GroupAdagradOptions, GroupAdamOptions, GroupAMSGradOptions, RegularizeFilter,
} from "./options.js";
