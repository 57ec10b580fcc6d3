import type { Layer } from "./layer.js";
import type { Param, ParamFactory } from "./param.js";
import { createParam, defaultParamFactory } from "./param.js";
import { initBound, uniformInit } from "./init.js";
import { checkDim } from "./linear.js";
import { matmul, matmulTransA, runsInWasm } from "./matmul.js";
import {
  crossFits, crossNetFits, layerCrossBackward, layerCrossForward, layerCrossNetBackward, layerCrossNetForward,
  type CrossNetLayer,
} from "../kernels/layers/index.js";
import { Scratch, checkBackward, checkBatch, checkInput } from "./scratch.js";

const fr = Math.fround;

/**
 * Whether a cross layer of this size runs its loops in WebAssembly SIMD
 * (src/kernels/assembly/cross.ts): it follows the dense products' backend
 * switch ({@link runsInWasm}), "ts" forcing the TypeScript loops below,
 * "wasm" the WebAssembly ones, "auto" WebAssembly when it loads and fits.
 * Both give the same bits, so this changes speed only.
 */
function crossWasm(batch: number, dim: number, count = 1): boolean {
  return runsInWasm(() => (count === 1 ? crossFits(batch, dim) && crossNetFits(batch, dim, 1) : crossNetFits(batch, dim, count)));
}

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
 *
 * Float32 arithmetic contract (shared with the WebAssembly SIMD twin in
 * src/kernels/assembly/cross.ts, so that both give the same bits), rounding
 * to float32 after every multiply and add, no fused multiply-add:
 * - s = x_l . w by the dense product (src/nn/matmul.ts);
 * - y = ((x0 * s) + b) + x_l per element;
 * - ds_r = dy_r . x0_r summed in 4 lanes (lane q: columns j = q mod 4 below
 *   dim & ~3, in order, from +0), combined (l0 + l1) + (l2 + l3), then the
 *   columns from dim & ~3 on added in order;
 * - dx0 = dy * s, dxl = dy + (ds * w) per element;
 * - db = column sums of dy from +0, rows in order; dw = x_l^T ds by the dense
 *   product (the WebAssembly backward sums it in its pass over the rows, in
 *   the same order: the same bits).
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

  constructor(readonly name: string, dim: number, seed: number, factory: ParamFactory = defaultParamFactory) {
    checkDim(name, "dim", dim);
    this.dim = dim;
    const wName = `${name}.w`;
    this.w = createParam(factory, wName, dim, 1, uniformInit(dim, initBound("glorot", dim, 1), seed, wName));
    this.b = createParam(factory, `${name}.b`, 1, dim, new Float32Array(dim));
  }

  forward(x0: Float32Array, xl: Float32Array, batch: number): Float32Array {
    checkBatch(this.name, batch);
    const d = this.dim, n = batch * d;
    checkInput(this.name, x0, n);
    checkInput(this.name, xl, n);
    const s = this.s.take(batch), y = this.y.take(n), w = this.w.value, b = this.b.value;
    if (crossWasm(batch, d)) {
      layerCrossForward(x0, xl, w, b, s, y, batch, d);
    } else {
      // s = x_l . w for every sample at once: a (batch x dim) by (dim x 1) product.
      matmul(xl, w, s, batch, d, 1);
      for (let r = 0; r < batch; r++) {
        const o = r * d, sr = s[r];
        // Storing into a Float32Array rounds the last add.
        for (let j = 0; j < d; j++) y[o + j] = fr(fr(x0[o + j] * sr) + b[j]) + xl[o + j];
      }
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
    const dx0 = this.dx0.take(n), dxl = this.dxl.take(n), ds = this.ds.take(batch), db = this.b.grad;
    if (crossWasm(batch, d)) {
      layerCrossBackward(dy, x0, xl, s, w, dx0, dxl, ds, db, this.w.grad, batch, d);
      return { dx0, dxl };
    }
    db.fill(0);
    const d4 = d & ~3;
    for (let r = 0; r < batch; r++) {
      const o = r * d, sr = s[r];
      // ds = d(loss)/d(x_l . w) = dy . x0, in the 4-lane order of the contract.
      let l0 = 0, l1 = 0, l2 = 0, l3 = 0, j = 0;
      for (; j < d4; j += 4) {
        const p = o + j;
        l0 = fr(l0 + fr(dy[p] * x0[p]));
        l1 = fr(l1 + fr(dy[p + 1] * x0[p + 1]));
        l2 = fr(l2 + fr(dy[p + 2] * x0[p + 2]));
        l3 = fr(l3 + fr(dy[p + 3] * x0[p + 3]));
      }
      let dr = fr(fr(l0 + l1) + fr(l2 + l3));
      for (; j < d; j++) dr = fr(dr + fr(dy[o + j] * x0[o + j]));
      ds[r] = dr;
      // Float32Array stores round: every element below is one float32 operation at a time.
      for (j = 0; j < d; j++) {
        const g = dy[o + j];
        dx0[o + j] = g * sr;
        dxl[o + j] = g + fr(dr * w[j]);
        db[j] += g;
      }
    }
    // dw = x_l^T ds: a (dim x batch) by (batch x 1) product.
    matmulTransA(xl, ds, this.w.grad, d, batch, 1);
    return { dx0, dxl };
  }

  /**
   * For {@link CrossNet}'s WebAssembly path, which runs the whole network in
   * one call: records this layer's inputs as {@link forward} would and returns
   * the buffers the kernels fill (s and y now, dw and db in the backward).
   */
  bindNet(x0: Float32Array, xl: Float32Array, batch: number): CrossNetLayer {
    this.x0 = x0;
    this.xl = xl;
    this.batch = batch;
    return this.netBuffers(batch);
  }

  /** The same buffers for the backward of the last {@link bindNet}. */
  netBuffers(batch: number): CrossNetLayer {
    checkBackward(this.name, this.batch, batch);
    return { w: this.w.value, b: this.b.value, s: this.s.take(batch), y: this.y.take(batch * this.dim), dw: this.w.grad, db: this.b.grad };
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
  private x0: Float32Array = new Float32Array(0);
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
    this.x0 = x0;
    if (this.layers.length > 0 && crossWasm(batch, this.inDim, this.layers.length)) {
      // The whole network in one call: x0 crosses into kernel memory once.
      const io = this.layers.map((l) => {
        const b = l.bindNet(x0, x, batch);
        x = b.y;
        return b;
      });
      layerCrossNetForward(x0, io, batch, this.inDim);
    } else {
      for (const l of this.layers) x = l.forward(x0, x, batch);
    }
    this.batch = batch;
    return x;
  }

  /**
   * The gradient of x0; `addend` (batch x dim), another path's gradient of the
   * same input, is added to it last: ((sum over the layers) + addend), which
   * saves the caller a pass over the largest array of the model.
   */
  backward(dy: Float32Array, batch: number, addend?: Float32Array): Float32Array {
    checkBackward(this.name, this.batch, batch);
    const n = batch * this.inDim;
    checkInput(this.name, dy, n);
    if (addend) checkInput(this.name, addend, n);
    const count = this.layers.length;
    if (count > 0 && crossWasm(batch, this.inDim, count)) {
      // The same sums in WebAssembly, the whole network in one call.
      const out = this.dx.take(n);
      layerCrossNetBackward(dy, this.x0, this.layers.map((l) => l.netBuffers(batch)), out, addend, batch, this.inDim);
      return out;
    }
    const dx = this.dx.take(n).fill(0);
    let g = dy;
    for (let i = this.layers.length - 1; i >= 0; i--) {
      const { dx0, dxl } = this.layers[i].backward(g, batch);
      for (let j = 0; j < n; j++) dx[j] += dx0[j];
      g = dxl;
    }
    for (let j = 0; j < n; j++) dx[j] += g[j];
    if (addend) for (let j = 0; j < n; j++) dx[j] += addend[j];
    return dx;
  }

  params(): Param[] {
    return this.layers.flatMap((l) => l.params());
  }
}
