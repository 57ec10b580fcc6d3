/**
 * The admission counts' kernel module (dist/counts.wasm, from
 * assembly/counts.ts), compiled once per thread and instantiated over a
 * counts' shared memory (src/train/shared-counts.ts): a thread's own
 * instance, checked and typed, with the layout of its pieces.
 */
import { readFileSync } from "node:fs";
import { bindExports } from "./bind.js";
import { COUNTS_MODULE_FUNCTIONS, type CountsModule } from "./generated/counts-exports.js";
import { wasmAbort } from "./wasm.js";

let compiled: WebAssembly.Module | undefined;

/** A piece of a counts' memory: where one thread's keys go for a call of countKeys. */
export interface PieceLayout {
  /** Keys a piece holds. */
  keys: number;
  /** Byte offsets in a piece of the keys' counts and of the call's results (keys inserted, keys admitted). */
  counts: number;
  result: number;
  /** Bytes of a piece. */
  bytes: number;
}

/** The kernels over a shared memory holding admission counts. */
export function countsKernels(memory: WebAssembly.Memory): CountsModule {
  if (!(memory.buffer instanceof SharedArrayBuffer)) throw new TypeError("the counts' kernels need a shared memory");
  compiled ??= new WebAssembly.Module(readFileSync(new URL("../../counts.wasm", import.meta.url)));
  const instance = new WebAssembly.Instance(compiled, { env: { memory, abort: wasmAbort } });
  return bindExports<CountsModule>(instance.exports, COUNTS_MODULE_FUNCTIONS, "counts.wasm");
}

let layout: PieceLayout | undefined;

/** The layout of the pieces (the kernel's own constants). */
export function pieceLayout(): PieceLayout {
  if (layout === undefined) {
    const k = countsKernels(new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }));
    layout = { keys: k.pieceKeys(), counts: k.pieceCounts(), result: k.pieceResult(), bytes: k.pieceBytes() };
  }
  return layout;
}
