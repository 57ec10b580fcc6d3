/**
 * The layer kernels: WebAssembly SIMD matrix products and fused layer steps
 * (cross layers, linear + ReLU, dropout, outer products) for src/nn, on one
 * thread or split with a helper thread, bit-identical to the TypeScript
 * layers. ops.ts the operations and settings, engine.ts where calls run,
 * layouts.ts their memory, helper/worker/protocol/split.ts the second thread.
 */
export * from "./ops.js";
export type { LayerKernelOptions } from "./engine.js";
export {
  matmulWorkBytes, matmulBytes, matmulFits, crossBytes, crossFits, crossNetFits, linearReluBytes,
  type MatmulLayout, type CrossNetLayer, type LayerExports,
} from "./layouts.js";
