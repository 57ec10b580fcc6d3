import type { Layer } from "./layer.js";
import type { Param, ParamFactory } from "./param.js";
import { createParam, defaultParamFactory } from "./param.js";
import { initBound, uniformInit } from "./init.js";
import { checkDim } from "./linear.js";
import { matmul, matmulTransA } from "./matmul.js";
import { Scratch, checkBackward, checkBatch, checkInput } from "./scratch.js";

/** Gradients of a {@link CrossLayer}'s two inputs (internal buffers, batch x dim). */
export interface CrossGrads {
  dx0: Float32Array;
  dxl: Float32Array;
}

/**
 * One cross layer of DCN v1 (Wang et al. 2017):
 * x_{l+1} = x0 * (x_l . w) + b + x_l, with w, b in R^dim.
 * Parameters: `${name}.w` stored [dim, 1] (a map from dim inputs to one
 * scalar, so each input's weight is its own row) and `${name}.b` as 1 x dim.
 * w starts Glorot-uniform (fanIn dim, fanOut 1), b at zero.
 */
export class CrossLayer {
  readonly dim: number;
  readonly w: Param;
  readonly b: Param;
  private x0: Float32Array = new Float32Array(0);
  private xl: Float32Array = new Float32Array(0);
  private batch = 0;
  /** x_l . w per sample, kept for backward. */
  private readonly s = new Scratch();
  private readonly y = new Scratch();
  private readonly dx0 = new Scratch();
  private readonly dxl = new Scratch();
  private readonly ds = new Scratch();
  private readonly db: Float64Array;

  constructor(readonly name: string, dim: number, seed: number, factory: ParamFactory = defaultParamFactory) {
    checkDim(name, "dim", dim);
    this.dim = dim;
    const wName = `${name}.w`;
    this.w = createParam(factory, wName, dim, 1, uniformInit(dim, initBound("glorot", dim, 1), seed, wName));
    this.b = createParam(factory, `${name}.b`, 1, dim, new Float32Array(dim));
    this.db = new Float64Array(dim);
  }

  forward(x0: Float32Array, xl: Float32Array, batch: number): Float32Array {
    checkBatch(this.name, batch);
    const d = this.dim, n = batch * d;
    checkInput(this.name, x0, n);
    checkInput(this.name, xl, n);
    const s = this.s.take(batch), y = this.y.take(n), w = this.w.value, b = this.b.value;
    // s = x_l . w for every sample at once: a (batch x dim) by (dim x 1) product.
    matmul(xl, w, s, batch, d, 1);
    for (let r = 0; r < batch; r++) {
      const o = r * d, sr = s[r];
      for (let j = 0; j < d; j++) y[o + j] = x0[o + j] * sr + b[j] + xl[o + j];
    }
    this.x0 = x0;
    this.xl = xl;
    this.batch = batch;
    return y;
  }

  /** Writes the grads of w and b; returns the gradients of x0 and x_l. */
  backward(dy: Float32Array, batch: number): CrossGrads {
    checkBackward(this.name, this.batch, batch);
    const d = this.dim, n = batch * d;
    checkInput(this.name, dy, n);
    const s = this.s.take(batch), x0 = this.x0, xl = this.xl, w = this.w.value;
    const dx0 = this.dx0.take(n), dxl = this.dxl.take(n), ds = this.ds.take(batch), db = this.db.fill(0);
    for (let r = 0; r < batch; r++) {
      const o = r * d, sr = s[r];
      // ds = d(loss)/d(x_l . w) = dy . x0
      let dot = 0;
      for (let j = 0; j < d; j++) dot += dy[o + j] * x0[o + j];
      const dr = Math.fround(dot);
      ds[r] = dr;
      for (let j = 0; j < d; j++) {
        const g = dy[o + j];
        dx0[o + j] = g * sr;
        dxl[o + j] = g + dr * w[j];
        db[j] += g;
      }
    }
    // dw = x_l^T ds: a (dim x batch) by (batch x 1) product.
    matmulTransA(xl, ds, this.w.grad, d, batch, 1);
    this.b.grad.set(db);
    return { dx0, dxl };
  }

  params(): Param[] {
    return [this.w, this.b];
  }
}

/**
 * DCN's cross network: `count` cross layers on x0, x_{l+1} = cross_l(x0, x_l),
 * output x_count (x0 itself when count is 0). x0's gradient sums the paths
 * through every layer's x0 and through the chain of x_l.
 */
export class CrossNet implements Layer {
  readonly inDim: number;
  readonly outDim: number;
  readonly layers: readonly CrossLayer[];
  private batch = 0;
  private readonly dx = new Scratch();

  /** Layers are named `${name}.0`, `${name}.1`, ... */
  constructor(readonly name: string, dim: number, count: number, seed: number, factory: ParamFactory = defaultParamFactory) {
    checkDim(name, "dim", dim);
    if (!Number.isInteger(count) || count < 0) throw new RangeError(`${name}: layer count must be a non-negative integer, got ${count}`);
    this.inDim = this.outDim = dim;
    this.layers = Array.from({ length: count }, (_, i) => new CrossLayer(`${name}.${i}`, dim, seed, factory));
  }

  forward(x0: Float32Array, batch: number, _training: boolean): Float32Array {
    checkBatch(this.name, batch);
    checkInput(this.name, x0, batch * this.inDim);
    let x = x0;
    for (const l of this.layers) x = l.forward(x0, x, batch);
    this.batch = batch;
    return x;
  }

  backward(dy: Float32Array, batch: number): Float32Array {
    checkBackward(this.name, this.batch, batch);
    const n = batch * this.inDim;
    checkInput(this.name, dy, n);
    const dx = this.dx.take(n).fill(0);
    let g = dy;
    for (let i = this.layers.length - 1; i >= 0; i--) {
      const { dx0, dxl } = this.layers[i].backward(g, batch);
      for (let j = 0; j < n; j++) dx[j] += dx0[j];
      g = dxl;
    }
    for (let j = 0; j < n; j++) dx[j] += g[j];
    return dx;
  }

  params(): Param[] {
    return this.layers.flatMap((l) => l.params());
  }
}
