import type { Layer } from "./layer.js";
import type { Param } from "./param.js";
import { checkDim } from "./linear.js";
import { Scratch, checkBackward, checkBatch, checkInput } from "./scratch.js";

/** max(x, 0) elementwise; the gradient at exactly 0 is taken as 0. NaN passes through. */
export class Relu implements Layer {
  readonly inDim: number;
  readonly outDim: number;
  private batch = 0;
  private readonly y = new Scratch();
  private readonly dx = new Scratch();
  private out: Float32Array = new Float32Array(0);

  constructor(dim: number, readonly name = "relu") {
    checkDim(name, "dim", dim);
    this.inDim = this.outDim = dim;
  }

  forward(x: Float32Array, batch: number, _training: boolean): Float32Array {
    checkBatch(this.name, batch);
    const n = batch * this.inDim;
    checkInput(this.name, x, n);
    const y = this.y.take(n);
    for (let i = 0; i < n; i++) {
      const v = x[i];
      y[i] = v <= 0 ? 0 : v;
    }
    this.out = y;
    this.batch = batch;
    return y;
  }

  backward(dy: Float32Array, batch: number): Float32Array {
    checkBackward(this.name, this.batch, batch);
    const n = batch * this.inDim;
    checkInput(this.name, dy, n);
    const dx = this.dx.take(n), y = this.out;
    // The output alone tells where the unit was active, so the input need not be kept.
    for (let i = 0; i < n; i++) dx[i] = y[i] > 0 ? dy[i] : 0;
    return dx;
  }

  params(): Param[] {
    return [];
  }
}
