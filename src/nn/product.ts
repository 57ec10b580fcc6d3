import type { Layer } from "./layer.js";
import type { Param, ParamFactory } from "./param.js";
import { Linear, checkDim } from "./linear.js";
import { linearReluBackward, linearReluForward } from "./linear-relu.js";
import { Scratch, checkBackward, checkBatch, checkInput } from "./scratch.js";
import { runsInWasm } from "./matmul.js";
import { layerOuterProductBackward, layerOuterProductForward } from "../kernels/layers/index.js";

/**
 * The product layer of OPNN (Qu et al. 2016) with sum pooling of the outer
 * products, as the peer PyTorch script, and the ReLU that follows it: for the
 * embeddings e of `fields` fields of size d (input batch x fields*d),
 *   f = sum over fields of e_i (d), p = f f^T flattened (d*d),
 *   y = relu(e_flat W_z + b + p W_p)        (output batch x outDim).
 * Sum pooling turns the fields^2 pairwise outer products into one d x d
 * matrix, which is what keeps the product layer affordable.
 *
 * p is symmetric, so p W_p = q W_q with q the upper triangle of p (f_a f_c,
 * a <= c, row by row: d(d+1)/2 values) and W_q's row (a, c) = W_p's rows
 * (a, c) + (c, a) for a < c, (a, a) on the diagonal: 45% fewer products
 * for this part at d = 10, the same function (rounding aside). Both
 * products run as one: [e_flat | q] times [W_z ; W_q] (stacked rows),
 * through the fused linear + ReLU of {@link linearReluForward}, so each
 * output adds its fields*d + d(d+1)/2 products in that order, then the bias.
 * W_p's gradient is W_q's, at (a, c) and at (c, a).
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
  /** [e_flat | q] per row: batch x (fields*d + d(d+1)/2). */
  private readonly xc = new Scratch();
  private readonly f = new Scratch();
  private readonly w = new Scratch();
  private readonly dw = new Scratch();
  private readonly y = new Scratch();
  private readonly dz = new Scratch();
  private readonly dxc = new Scratch();
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

  /** Columns of the stacked input. */
  private get width(): number {
    return this.inDim + (this.dim * (this.dim + 1)) / 2;
  }

  forward(x: Float32Array, batch: number, _training: boolean): Float32Array {
    checkBatch(this.name, batch);
    checkInput(this.name, x, batch * this.inDim);
    const d = this.dim, F = this.fields, Fd = this.inDim, wd = this.width, n = this.outDim;
    const f = this.f.take(batch * d), xc = this.xc.take(batch * wd);
    if (runsInWasm()) layerOuterProductForward(x, xc, f, batch, F, d);
    else stackInputs(x, xc, f, batch, F, d);
    const w = this.w.take(wd * n);
    w.set(this.lz.weight.value);
    foldWeights(this.lp.weight.value, w.subarray(Fd * n), d, n);
    const y = this.y.take(batch * n);
    linearReluForward(xc, w, this.lz.bias!.value, y, batch, wd, n);
    this.batch = batch;
    return y;
  }

  backward(dy: Float32Array, batch: number): Float32Array {
    checkBackward(this.name, this.batch, batch);
    checkInput(this.name, dy, batch * this.outDim);
    const d = this.dim, F = this.fields, Fd = this.inDim, wd = this.width, n = this.outDim;
    const dw = this.dw.take(wd * n), dxc = this.dxc.take(batch * wd);
    linearReluBackward(
      dy, this.y.take(batch * n), this.xc.take(batch * wd), this.w.take(wd * n), dw, this.lz.bias!.grad, dxc,
      this.dz.take(batch * n), batch, wd, n,
    );
    this.lz.weight.grad.set(dw.subarray(0, Fd * n));
    unfoldGradient(dw.subarray(Fd * n, wd * n), this.lp.weight.grad, d, n);
    const f = this.f.take(batch * d), dx = this.dx.take(batch * Fd);
    if (runsInWasm()) layerOuterProductBackward(dxc, f, dx, batch, F, d);
    else inputGradient(dxc, f, dx, this.df, batch, F, d);
    return dx;
  }

  params(): Param[] {
    return [...this.lz.params(), ...this.lp.params()];
  }
}

/** W_q from W_p (d*d rows of n): row (a, c), a <= c in triangle order, = W_p(a, c) + W_p(c, a), or W_p(a, a). */
function foldWeights(wp: Float32Array, wq: Float32Array, d: number, n: number): void {
  let t = 0;
  for (let a = 0; a < d; a++) {
    wq.set(wp.subarray((a * d + a) * n, (a * d + a + 1) * n), t);
    t += n;
    for (let c = a + 1; c < d; c++, t += n) {
      const u = (a * d + c) * n, v = (c * d + a) * n;
      for (let j = 0; j < n; j++) wq[t + j] = wp[u + j] + wp[v + j];
    }
  }
}

/** W_p's gradient from W_q's: row (a, c) of dW_q to rows (a, c) and (c, a). */
function unfoldGradient(dwq: Float32Array, dwp: Float32Array, d: number, n: number): void {
  let t = 0;
  for (let a = 0; a < d; a++) {
    for (let c = a; c < d; c++, t += n) {
      const row = dwq.subarray(t, t + n);
      dwp.set(row, (a * d + c) * n);
      if (c !== a) dwp.set(row, (c * d + a) * n);
    }
  }
}

/** The TypeScript twin of layerOuterProductForward: f = the sum over fields, xc = [x row | q]. */
function stackInputs(x: Float32Array, xc: Float32Array, f: Float32Array, batch: number, F: number, d: number): void {
  const Fd = F * d, wd = Fd + (d * (d + 1)) / 2;
  for (let r = 0; r < batch; r++) {
    const e = r * Fd, fo = r * d, o = r * wd;
    xc.set(x.subarray(e, e + Fd), o);
    for (let k = 0; k < d; k++) {
      let s = 0;
      for (let i = 0; i < F; i++) s += x[e + i * d + k];
      f[fo + k] = s;
    }
    let t = o + Fd;
    for (let a = 0; a < d; a++) {
      const fa = f[fo + a];
      for (let c = a; c < d; c++) xc[t++] = fa * f[fo + c];
    }
  }
}

/**
 * The TypeScript twin of layerOuterProductBackward: df_k = sum over j, in
 * order, of dq(min(k, j), max(k, j)) f_j, twice that at j = k (f_k enters
 * q_kk twice), in float64; then dx = dxc's embedding part + df.
 */
function inputGradient(dxc: Float32Array, f: Float32Array, dx: Float32Array, df: Float64Array, batch: number, F: number, d: number): void {
  const Fd = F * d, wd = Fd + (d * (d + 1)) / 2;
  for (let r = 0; r < batch; r++) {
    const fo = r * d, o = r * wd, qo = o + Fd, e = r * Fd;
    for (let k = 0; k < d; k++) {
      let s = 0;
      for (let j = 0; j < d; j++) {
        const g = dxc[qo + triangle(Math.min(k, j), Math.max(k, j), d)];
        s += (j === k ? 2 * g : g) * f[fo + j];
      }
      df[k] = s;
    }
    // Every field's embedding enters f with weight 1.
    for (let i = 0; i < F; i++) {
      const q = i * d;
      for (let k = 0; k < d; k++) dx[e + q + k] = dxc[o + q + k] + df[k];
    }
  }
}

/** Position of (a, c), a <= c, in the row-by-row upper triangle of a d x d matrix. */
function triangle(a: number, c: number, d: number): number {
  return a * d - (a * (a - 1)) / 2 + (c - a);
}
