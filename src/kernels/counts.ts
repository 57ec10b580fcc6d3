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

/** What one call of a counts' kernel counted: the keys' counts (a view valid until the next call), and the keys it inserted and admitted. */
export interface PieceCounts {
  counts: Uint32Array;
  inserted: number;
  admitted: number;
}

/**
 * One call of a counts' kernel on keys from..from + m of `words` ((lo, hi)
 * pairs; m at most a piece's keys): copies them into the piece at byte `at`
 * of the memory `u32` views, lets `run` call the kernel on that piece, and
 * reads back what it counted.
 */
export function countInPiece(u32: Uint32Array, at: number, words: Uint32Array, from: number, m: number, run: () => void): PieceCounts {
  const l = pieceLayout(), c = (at + l.counts) >>> 2, r = (at + l.result) >>> 2;
  u32.set(words.subarray(2 * from, 2 * (from + m)), at >>> 2);
  run();
  return { counts: u32.subarray(c, c + m), inserted: u32[r], admitted: u32[r + 1] };
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
