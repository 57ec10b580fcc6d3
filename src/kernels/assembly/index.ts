// Entry point of the WebAssembly module: the kernels and the layout constants
// (exported so a test can check the TypeScript side agrees).
export * from "./layout";
export { updateDense, updateSparse } from "./rows";
export { resolve, dedupResolve, dedupLookup, createMissing, lookup, rehash, keysInRowOrder, gatherExisting } from "./table";
export { accumulateInverse, gatherInverse, gather, findNonFinite } from "./batch-rows";
export { addScaled, scaleBy } from "./axpy";
export { sgemm, sgemmTransA, sgemmTransB, sgemmWorkBytes } from "./matmul";
export { crossForward, crossBackward, crossBackwardAccumulate } from "./cross";
export { biasRelu, reluBackward } from "./relu";
export { partitionKeys, gatherSlots, scatterSlots } from "./shard";
