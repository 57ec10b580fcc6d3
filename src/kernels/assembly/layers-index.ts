// Entry point of the layer module (dist/layers.wasm, and dist/layers-fma.wasm
// with relaxed SIMD): the matrix products and the layer kernels, over a
// shared memory so that a helper thread can run half of a product.
export { HEAP_BASE } from "./layout";
export { sgemm, sgemmTransA, sgemmTransB, sgemmWorkBytes, sgemmPackB, sgemmBlock } from "./matmul";
export { crossForward, crossBackward, crossBackwardAccumulate } from "./cross";
export { biasRelu, reluBackward } from "./relu";
export { dropout, dropoutBackward } from "./dropout";
export { outerProductForward, outerProductBackward } from "./product";
