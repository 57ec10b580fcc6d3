/** Growable work buffers, so that batch sizes may change between calls. */
import { layerBuffer, layerRelease } from "../kernels/layers/index.js";

/** A Scratch's buffer, held apart from it so that it can be freed once the Scratch is collected. */
interface Held { data: Float32Array }

const collected = new FinalizationRegistry<Held>((h) => layerRelease(h.data));

/**
 * A float32 buffer handed out as an exact-length view; it grows, never
 * shrinks. It lives where the dense kernels work in place when they run
 * (see layerBuffer): layer outputs and gradients then cross into kernel
 * memory no more. Such a buffer is freed when the Scratch grows or is
 * collected: views of it are valid until the next call, as ever, and no
 * longer than the Scratch (the layer, the model) lives.
 */
export class Scratch {
  private readonly held: Held = { data: new Float32Array(0) };
  private view: Float32Array = this.held.data;

  constructor() {
    collected.register(this, this.held);
  }

  /** A view of n floats (contents unspecified); valid until the next call. */
  take(n: number): Float32Array {
    if (this.view.length === n) return this.view;
    const h = this.held;
    if (h.data.length < n) {
      layerRelease(h.data);
      h.data = layerBuffer(n);
    }
    this.view = h.data.subarray(0, n);
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
