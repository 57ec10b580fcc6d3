import { readFileSync } from "node:fs";
import { setFlagsFromString } from "node:v8";

/**
 * The layer kernel modules: dist/layers.wasm (plain SIMD, the TypeScript
 * kernels' bits) and dist/layers-fma.wasm (relaxed SIMD: fused multiply-adds
 * in the products), both over a shared memory (with two threads, one
 * instance per thread works on the same operands).
 */

const compiled = new Map<string, WebAssembly.Module>();
let relaxedChecked: boolean | undefined;

function fileOf(fma: boolean): string {
  return `layers${fma ? "-fma" : ""}.wasm`;
}

function bytes(fma: boolean): Uint8Array<ArrayBuffer> {
  return new Uint8Array(readFileSync(new URL(`../../../${fileOf(fma)}`, import.meta.url)));
}

/**
 * True when this runtime can compile relaxed SIMD. Node 20's V8 has it behind
 * a flag: it is turned on for this process (it only adds instructions, and
 * only the fused-product module uses them) and the module is validated.
 */
export function relaxedSimdAvailable(): boolean {
  if (relaxedChecked !== undefined) return relaxedChecked;
  const fma = bytes(true);
  if (!WebAssembly.validate(fma)) {
    try {
      setFlagsFromString("--experimental-wasm-relaxed-simd");
    } catch {
      // an embedder without V8 flags: validation below says no
    }
  }
  relaxedChecked = WebAssembly.validate(fma);
  return relaxedChecked;
}

/**
 * The compiled layer module, plain or fused (the caller checks
 * {@link relaxedSimdAvailable} first).
 */
export function layerModule(fma: boolean): WebAssembly.Module {
  const key = fileOf(fma);
  let m = compiled.get(key);
  if (!m) {
    if (fma && !relaxedSimdAvailable()) throw new Error("sparsectr: this runtime cannot compile relaxed SIMD (fused multiply-add)");
    m = new WebAssembly.Module(bytes(fma));
    compiled.set(key, m);
  }
  return m;
}

/** Imports of one instance over `memory`. */
export function layerImports(memory: WebAssembly.Memory): WebAssembly.Imports {
  return { env: { memory, abort: layerAbort } };
}

function layerAbort(): never {
  throw new Error("sparsectr: layer WebAssembly kernel aborted");
}
