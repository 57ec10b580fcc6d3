import type { Layer } from "./layer.js";
import type { Param, ParamFactory } from "./param.js";
import { Linear, checkDim } from "./linear.js";
import { Scratch, checkBackward, checkBatch, checkInput } from "./scratch.js";

/**
 * The product layer of OPNN (Qu et al. 2016) with sum pooling of the outer
 * products, as the peer PyTorch script: for the embeddings e of `fields`
 * fields of size d (input batch x fields*d),
 *   f = sum over fields of e_i (d), p = f f^T flattened (d*d),
 *   y = e_flat W_z + b + p W_p        (output batch x outDim).
 * Sum pooling turns the fields^2 pairwise outer products into one d x d
 * matrix, which is what keeps the product layer affordable.
 * Parameters: `${name}.z.weight` [fields*d, outDim], `${name}.z.bias`
 * [1, outDim], `${name}.p.weight` [d*d, outDim] (no bias); He-uniform weights,
 * since a ReLU follows.
 */
export class OuterProductLayer implements Layer {
  readonly inDim: number;
  readonly outDim: number;
  readonly lz: Linear;
  readonly lp: Linear;
  private batch = 0;
  private readonly f = new Scratch();
  private readonly p = new Scratch();
  private readonly y = new Scratch();
  private readonly dx = new Scratch();
  private readonly df: Float64Array;

  constructor(
    readonly name: string, readonly fields: number, readonly dim: number, outDim: number,
    seed: number, factory?: ParamFactory,
  ) {
    checkDim(name, "fields", fields);
    checkDim(name, "dim", dim);
    this.inDim = fields * dim;
    this.outDim = outDim;
    this.lz = new Linear({ name: `${name}.z`, inDim: this.inDim, outDim, seed, params: factory });
    this.lp = new Linear({ name: `${name}.p`, inDim: dim * dim, outDim, bias: false, seed, params: factory });
    this.df = new Float64Array(dim);
  }

  forward(x: Float32Array, batch: number, training: boolean): Float32Array {
    checkBatch(this.name, batch);
    checkInput(this.name, x, batch * this.inDim);
    const d = this.dim, F = this.fields, dd = d * d;
    const f = this.f.take(batch * d), p = this.p.take(batch * dd);
    for (let r = 0; r < batch; r++) {
      const e = r * F * d, fo = r * d, po = r * dd;
      for (let k = 0; k < d; k++) {
        let s = 0;
        for (let i = 0; i < F; i++) s += x[e + i * d + k];
        f[fo + k] = s;
      }
      for (let a = 0; a < d; a++) {
        const fa = f[fo + a];
        for (let c = 0; c < d; c++) p[po + a * d + c] = fa * f[fo + c];
      }
    }
    const z = this.lz.forward(x, batch, training), q = this.lp.forward(p, batch, training);
    const n = batch * this.outDim, y = this.y.take(n);
    for (let i = 0; i < n; i++) y[i] = z[i] + q[i];
    this.batch = batch;
    return y;
  }

  backward(dy: Float32Array, batch: number): Float32Array {
    checkBackward(this.name, this.batch, batch);
    checkInput(this.name, dy, batch * this.outDim);
    const d = this.dim, F = this.fields, dd = d * d;
    const dxz = this.lz.backward(dy, batch), dp = this.lp.backward(dy, batch);
    const f = this.f.take(batch * d), dx = this.dx.take(batch * this.inDim), df = this.df;
    for (let r = 0; r < batch; r++) {
      const fo = r * d, po = r * dd, e = r * F * d;
      // p_ac = f_a f_c, so d(loss)/d(f_a) = sum_c (dp_ac + dp_ca) f_c.
      for (let a = 0; a < d; a++) {
        let s = 0;
        for (let c = 0; c < d; c++) s += (dp[po + a * d + c] + dp[po + c * d + a]) * f[fo + c];
        df[a] = s;
      }
      // Every field's embedding enters f with weight 1.
      for (let i = 0; i < F; i++) {
        const o = e + i * d;
        for (let k = 0; k < d; k++) dx[o + k] = dxz[o + k] + df[k];
      }
    }
    return dx;
  }

  params(): Param[] {
    return [...this.lz.params(), ...this.lp.params()];
  }
}
