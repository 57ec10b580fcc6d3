import { readFileSync } from "node:fs";
import type { Kernels } from "./kernels.js";

let compiled: WebAssembly.Module | undefined;

function module(): WebAssembly.Module {
  if (!compiled) {
    const bytes = readFileSync(new URL("../../kernels.wasm", import.meta.url));
    compiled = new WebAssembly.Module(bytes);
  }
  return compiled;
}

/** The compiled module's exports, for tests that check the layout constants. */
export function wasmExports(memory: WebAssembly.Memory): WebAssembly.Exports {
  return new WebAssembly.Instance(module(), { env: { memory, abort: wasmAbort } }).exports;
}

function wasmAbort(): never {
  throw new Error("sparsectr: WebAssembly kernel aborted");
}

/** WebAssembly SIMD kernels bound to one memory (one instance per memory). */
export function wasmKernels(memory: WebAssembly.Memory): Kernels {
  return wasmExports(memory) as unknown as Kernels;
}
