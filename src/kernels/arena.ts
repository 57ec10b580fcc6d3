import { Heap, MAX_PAGES } from "./heap.js";
import type { Backend, Kernels } from "./kernels.js";
import { wasmKernels } from "./wasm.js";
import { tsKernels } from "./ts/index.js";

/**
 * One WebAssembly memory, its allocator and the kernels bound to it. Everything
 * a kernel touches in one call (weights, state, gradients) must live in the
 * same arena. A dense parameter gets its own arena unless given one (a model
 * puts all its dense layers in one); every sparse table has its own.
 */
export class Arena {
  readonly heap: Heap;
  readonly kernels: Kernels;
  readonly backend: Backend;

  /**
   * `shared`: the memory is a shared one, so that another thread can read it
   * (a table's index; see optim/lookahead.ts), and so that growing it never
   * detaches the views made of it before.
   */
  constructor(backend: Backend = "wasm", opts: { shared?: boolean } = {}) {
    if (backend !== "wasm" && backend !== "ts") {
      throw new TypeError(`unknown backend "${String(backend)}": expected "wasm" or "ts"`);
    }
    this.backend = backend;
    this.heap = new Heap(opts.shared ? new WebAssembly.Memory({ initial: 2, maximum: MAX_PAGES, shared: true }) : undefined);
    this.kernels = backend === "wasm" ? wasmKernels(this.heap.memory) : tsKernels(this.heap);
  }
}
