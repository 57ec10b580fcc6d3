/** One memory with its instance of the layer module: the kernels' exports, views and the memory's allocator. */
import { HEAP_BASE } from "../layout.js";
import { Heap } from "../heap.js";
import type { LayerExports } from "./layouts.js";
import { layerImports } from "./module.js";
import { bindExports } from "../bind.js";
import { LAYER_MODULE_FUNCTIONS, type LayerModule } from "../generated/layer-exports.js";

/** One memory with its instance of the layer module, and views of it. */
export class Space {
  readonly ex: LayerExports;
  f32: Float32Array;
  f64: Float64Array;
  /**
   * The memory's allocator: arrays of {@link layerBuffer} live in it, and the
   * call area is one of its blocks (callArea, callBytes long), so that the
   * two never overlap.
   */
  readonly heap: Heap;
  callArea = HEAP_BASE;
  callBytes = 0;
  /** Every buffer object the memory had (one per size): an array over any of them lives here. */
  readonly buffers = new WeakSet<ArrayBufferLike>();

  constructor(readonly memory: WebAssembly.Memory, module: WebAssembly.Module) {
    this.ex = bindExports<LayerModule>(new WebAssembly.Instance(module, layerImports(memory)).exports, LAYER_MODULE_FUNCTIONS, "layers.wasm");
    this.heap = new Heap(memory);
    this.f32 = new Float32Array(memory.buffer);
    this.f64 = new Float64Array(memory.buffer);
    this.buffers.add(memory.buffer);
  }

  /** Re-makes the views after the memory grew (a shared memory's buffer object changes with its size). */
  refresh(): void {
    if (this.f32.buffer === this.memory.buffer && this.f32.length > 0) return;
    this.f32 = new Float32Array(this.memory.buffer);
    this.f64 = new Float64Array(this.memory.buffer);
    this.buffers.add(this.memory.buffer);
  }

  /** True when a lives in this memory (so a kernel can use it at a.byteOffset). */
  holds(a: Float32Array): boolean {
    return this.buffers.has(a.buffer);
  }
}
