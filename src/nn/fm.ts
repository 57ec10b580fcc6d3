import type { Layer } from "./layer.js";
import type { Param } from "./param.js";
import { checkDim } from "./linear.js";
import { Scratch, checkBackward, checkBatch, checkInput } from "./scratch.js";

/**
 * The second-order term of a factorisation machine (Rendle 2010) over the
 * embeddings of `fields` fields of size d (input batch x fields*d, output
 * batch x 1): the sum over field pairs of <e_i, e_j>, computed in linear time
 * as 0.5 * sum_k ((sum_i e_ik)^2 - sum_i e_ik^2).
 * Gradient: d/d(e_ik) = sum_j e_jk - e_ik. No parameters.
 */
export class FmLayer implements Layer {
  readonly inDim: number;
  readonly outDim = 1;
  private x: Float32Array = new Float32Array(0);
  private batch = 0;
  /** Per-sample field sums (batch x d), kept for backward. */
  private readonly s = new Scratch();
  private readonly y = new Scratch();
  private readonly dx = new Scratch();

  constructor(readonly fields: number, readonly dim: number, readonly name = "fm") {
    checkDim(name, "fields", fields);
    checkDim(name, "dim", dim);
    this.inDim = fields * dim;
  }

  forward(x: Float32Array, batch: number, _training: boolean): Float32Array {
    checkBatch(this.name, batch);
    checkInput(this.name, x, batch * this.inDim);
    const d = this.dim, F = this.fields, s = this.s.take(batch * d), y = this.y.take(batch);
    for (let r = 0; r < batch; r++) {
      const e = r * F * d;
      let total = 0;
      for (let k = 0; k < d; k++) {
        let sum = 0, sq = 0;
        for (let i = 0; i < F; i++) {
          const v = x[e + i * d + k];
          sum += v;
          sq += v * v;
        }
        s[r * d + k] = sum;
        total += sum * sum - sq;
      }
      y[r] = 0.5 * total;
    }
    this.x = x;
    this.batch = batch;
    return y;
  }

  backward(dy: Float32Array, batch: number): Float32Array {
    checkBackward(this.name, this.batch, batch);
    checkInput(this.name, dy, batch);
    const d = this.dim, F = this.fields, x = this.x, s = this.s.take(batch * d);
    const dx = this.dx.take(batch * this.inDim);
    for (let r = 0; r < batch; r++) {
      const g = dy[r], e = r * F * d, so = r * d;
      for (let i = 0; i < F; i++) {
        const o = e + i * d;
        for (let k = 0; k < d; k++) dx[o + k] = g * (s[so + k] - x[o + k]);
      }
    }
    return dx;
  }

  params(): Param[] {
    return [];
  }
}
