// Entry point of the shared-memory kernel module (dist/kernels-shared.wasm):
// every kernel of index.ts, the concurrent table kernels, the merge of a
// round's shares (round-merge.ts), and the move of an instance's row scratch
// (each thread on a shared memory has its own).
export * from "./index";
export { setScratchBase } from "./rows";
export { dedupResolveShared, updateSparseShared } from "./concurrent";
export { bucketByOwner, mergeOwned, rowOwner } from "./round-merge";
