import type { Layer } from "./layer.js";
import type { Param } from "./param.js";
import { checkDim } from "./linear.js";
import { deriveSeed } from "./random.js";
import { MaskStream } from "./mask-stream.js";
import { layerDropoutBackward } from "../kernels/layers/index.js";
import { Scratch, checkBackward, checkBatch, checkInput } from "./scratch.js";

/**
 * Inverted dropout: in training each unit is kept with probability 1 - rate
 * and scaled by 1 / (1 - rate), so evaluation is the identity (forward returns
 * its input array itself). Masks come from a seeded stream that advances with
 * every training forward: the same seed and the same sequence of calls give
 * the same masks.
 */
export class Dropout implements Layer {
  readonly inDim: number;
  readonly outDim: number;
  readonly rate: number;
  private rng: MaskStream;
  private batch = 0;
  private masked = false;
  /** Whether the forward kept its mask in `bits` (WebAssembly path) rather than in `mask`. */
  private inBits = false;
  private bits = new Uint32Array(0);
  private readonly mask = new Scratch();
  private readonly y = new Scratch();
  private readonly dx = new Scratch();
  private readonly threshold: number;
  private readonly scale: number;

  /**
   * @param rate probability of zeroing a unit, in [0, 1).
   * @param seed model seed; the mask stream is derived from it and `name`.
   */
  constructor(dim: number, rate: number, seed: number, readonly name = "dropout") {
    checkDim(name, "dim", dim);
    if (!(rate >= 0 && rate < 1)) throw new RangeError(`${name}: rate must be in [0, 1), got ${rate}`);
    this.inDim = this.outDim = dim;
    this.rate = rate;
    // A unit is dropped when a uniform 32-bit integer falls below rate * 2^32.
    this.threshold = Math.round(rate * 4294967296);
    this.scale = Math.fround(1 / (1 - rate));
    this.rng = new MaskStream(deriveSeed(seed, name));
  }

  /** Restarts the mask stream from a model seed (as at construction with that seed). */
  reseed(seed: number): void {
    this.rng = new MaskStream(deriveSeed(seed, this.name));
  }

  forward(x: Float32Array, batch: number, training: boolean): Float32Array {
    checkBatch(this.name, batch);
    const n = batch * this.inDim;
    checkInput(this.name, x, n);
    this.batch = batch;
    this.masked = training && this.rate > 0;
    if (!this.masked) return x.length === n ? x : x.subarray(0, n);
    const y = this.y.take(n);
    if (MaskStream.inWasm(n, this.threshold)) {
      // The mask as bits: a 32nd of the float mask to keep, and backward is a
      // pass of WebAssembly over them.
      const words = Math.ceil(n / 32);
      if (this.bits.length < words) this.bits = new Uint32Array(words);
      this.inBits = true;
      this.rng.dropoutBits(x, y, this.bits, n, this.threshold, this.scale);
    } else {
      this.inBits = false;
      this.rng.dropout(x, y, this.mask.take(n), n, this.threshold, this.scale);
    }
    return y;
  }

  backward(dy: Float32Array, batch: number): Float32Array {
    checkBackward(this.name, this.batch, batch);
    const n = batch * this.inDim;
    checkInput(this.name, dy, n);
    if (!this.masked) return dy.length === n ? dy : dy.subarray(0, n);
    const dx = this.dx.take(n);
    if (this.inBits) {
      // dx = dy * mask, the mask from its bits: the same numbers as the forward's.
      layerDropoutBackward(this.bits, dy, dx, n, this.scale);
      return dx;
    }
    const m = this.mask.take(n);
    for (let i = 0; i < n; i++) dx[i] = dy[i] * m[i];
    return dx;
  }

  params(): Param[] {
    return [];
  }
}
