/** Growable work buffers, so that batch sizes may change between calls. */
import { denseBuffer } from "../kernels/dense.js";

/**
 * A float32 buffer handed out as an exact-length view; it grows, never
 * shrinks. It lives where the dense kernels work in place when they run
 * (see denseBuffer): layer outputs and gradients then cross into kernel
 * memory no more.
 */
export class Scratch {
  private data: Float32Array = new Float32Array(0);
  private view: Float32Array = this.data;

  /** A view of n floats (contents unspecified); valid until the next call. */
  take(n: number): Float32Array {
    if (this.view.length === n) return this.view;
    if (this.data.length < n) this.data = denseBuffer(n);
    this.view = this.data.subarray(0, n);
    return this.view;
  }
}

/** Throws unless batch is a positive integer. */
export function checkBatch(where: string, batch: number): void {
  if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`${where}: batch must be a positive integer, got ${batch}`);
}

/** Throws unless x is a Float32Array holding at least `need` floats (it may be longer; only the first `need` are read). */
export function checkInput(where: string, x: Float32Array, need: number): void {
  if (!(x instanceof Float32Array)) throw new TypeError(`${where}: expected a Float32Array`);
  if (x.length < need) throw new RangeError(`${where}: expected at least ${need} floats, got ${x.length}`);
}

/** Throws unless backward follows a forward of the same batch size. */
export function checkBackward(where: string, forwardBatch: number, batch: number): void {
  if (forwardBatch === 0) throw new Error(`${where}: backward before forward`);
  if (batch !== forwardBatch) throw new RangeError(`${where}: backward batch ${batch} differs from the forward batch ${forwardBatch}`);
}
