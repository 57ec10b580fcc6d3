import { readFileSync } from "node:fs";
import type { Kernels } from "./kernels.js";
import { bindExports } from "./bind.js";
import { KERNEL_MODULE_FUNCTIONS, type KernelModule } from "./generated/kernel-exports.js";
import { SHARED_KERNEL_MODULE_FUNCTIONS, type SharedKernelModule } from "./generated/shared-kernel-exports.js";

const compiled = new Map<boolean, WebAssembly.Module>();

/** The kernel module built for an ordinary memory, or for a shared one (kernels-shared.wasm). */
export function kernelModule(shared: boolean): WebAssembly.Module {
  let m = compiled.get(shared);
  if (!m) {
    m = new WebAssembly.Module(readFileSync(new URL(shared ? "../../kernels-shared.wasm" : "../../kernels.wasm", import.meta.url)));
    compiled.set(shared, m);
  }
  return m;
}

/** The compiled module's exports over a memory (the shared build for a shared memory). */
export function wasmExports(memory: WebAssembly.Memory): WebAssembly.Exports {
  return new WebAssembly.Instance(kernelModule(isShared(memory)), { env: { memory, abort: wasmAbort } }).exports;
}

function isShared(memory: WebAssembly.Memory): boolean {
  return memory.buffer instanceof SharedArrayBuffer;
}

export function wasmAbort(): never {
  throw new Error("sparsectr: WebAssembly kernel aborted");
}

/** The kernel module's functions over a memory, checked and typed. */
export function kernelModuleExports(memory: WebAssembly.Memory): KernelModule {
  return bindExports<KernelModule>(wasmExports(memory), KERNEL_MODULE_FUNCTIONS, "kernels.wasm");
}

/** The shared build's functions over a shared memory (a thread's own instance: its own globals), checked and typed. */
export function sharedKernelExports(memory: WebAssembly.Memory): SharedKernelModule {
  if (!isShared(memory)) throw new TypeError("the concurrent table kernels need a shared memory");
  return bindExports<SharedKernelModule>(wasmExports(memory), SHARED_KERNEL_MODULE_FUNCTIONS, "kernels-shared.wasm");
}

/** WebAssembly SIMD kernels bound to one memory (one instance per memory). */
export function wasmKernels(memory: WebAssembly.Memory): Kernels {
  return kernelModuleExports(memory);
}
