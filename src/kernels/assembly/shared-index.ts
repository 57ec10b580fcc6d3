// Entry point of the shared-memory kernel module (dist/kernels-shared.wasm):
// every kernel of index.ts, the concurrent table kernels, and the move of an
// instance's row scratch (each thread on a shared memory has its own).
export * from "./index";
export { setScratchBase } from "./rows";
export { dedupResolveShared, updateSparseShared } from "./concurrent";
