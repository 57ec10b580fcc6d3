/**
 * Neural-network layers with explicit forward and backward passes on
 * batch-major float32 activations.
 * @packageDocumentation
 */
export type { Layer } from "./layer.js";
export type { Param, ParamFactory } from "./param.js";
export { createParam, defaultParamFactory } from "./param.js";
export { Random, deriveSeed } from "./random.js";
export { initBound, uniformInit } from "./init.js";
export type { InitScheme } from "./init.js";
export { matmul, matmulTransA, matmulTransB, setMatmulBackend, getMatmulBackend } from "./matmul.js";
export { Linear } from "./linear.js";
export type { LinearOptions } from "./linear.js";
export { Relu } from "./relu.js";
export { LinearRelu } from "./linear-relu.js";
export { Dropout } from "./dropout.js";
export { Sequential } from "./sequential.js";
export { CrossLayer, CrossNet } from "./cross.js";
export type { CrossGrads } from "./cross.js";
export { OuterProductLayer } from "./product.js";
export { FmLayer } from "./fm.js";
export { sigmoid, sigmoidLogLoss } from "./loss.js";
export { Scratch } from "./scratch.js";
export { gradCheck } from "./gradcheck.js";
export type { GradCheckVar, GradCheckRun, GradCheckOptions, GradCheckResult } from "./gradcheck.js";
