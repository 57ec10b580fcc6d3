/**
 * sparsectr: adaptive optimizers with sparse group lasso (l1, l21, l2) that
 * make CTR models sparse while they train.
 * @packageDocumentation
 */
export { createOptimizer } from "./optim/optimizer.js";
export type { Optimizer, OptimizerOptions } from "./optim/optimizer.js";
export { OPTIMIZER_NAMES, defaultsFor } from "./optim/hyper.js";
export type { OptimizerName, Hyperparams, ResolvedHyperparams } from "./optim/hyper.js";
export { DenseParam } from "./optim/dense.js";
export { SparseTable } from "./optim/table.js";
export type { TableOptions, RowInit } from "./optim/table.js";
export type { FeatureIds } from "./optim/ids.js";
export type { StepOptions } from "./optim/checks.js";
export { Arena } from "./kernels/arena.js";
export type { Backend } from "./kernels/kernels.js";
export { configureLayers, layersReady } from "./kernels/layers/index.js";
export type { LayerKernelOptions } from "./kernels/layers/index.js";
export { writeFileAtomic, writeFileAtomicAsync } from "./io/atomic.js";
export * from "./data/index.js";
export * from "./data/synth/index.js";
export * from "./metrics/index.js";
export { createModel, MODEL_NAMES, MODEL_PRESETS, isModelName } from "./models/index.js";
export type { Model, ModelConfig, ModelName, ModelInput } from "./models/index.js";
export type { Param, ParamFactory } from "./nn/param.js";
export { buildModel, CtrModel, plainOf } from "./train/model.js";
export type { TrainSettings } from "./train/model.js";
export { trainModel, fileSource } from "./train/trainer.js";
export { evaluateLogits, evaluateModel, type Evaluation, type Logits } from "./train/evaluate.js";
export { evaluateThreads, logitsThreads, scoringThreads } from "./train/score-threads.js";
export { MemoryBudgetError } from "./train/budget.js";
export type { Progress, RowSource, TrainResult } from "./train/trainer.js";
export { Predictor, exportModel, encodeModel } from "./serve/model-file.js";
export type { InputSpec } from "./serve/model-file.js";
