import type { Layer } from "./layer.js";
import { matmul, matmulTransA, matmulTransB } from "./matmul.js";
import { createParam, defaultParamFactory, type Param, type ParamFactory } from "./param.js";
import { initBound, uniformInit, type InitScheme } from "./init.js";
import { Scratch, checkBackward, checkBatch, checkInput } from "./scratch.js";

/** Options of a {@link Linear} layer. */
export interface LinearOptions {
  /** Prefix of the parameter names: `${name}.weight`, `${name}.bias`. */
  name: string;
  inDim: number;
  outDim: number;
  /** Default true. */
  bias?: boolean;
  /** Weight initialisation; default "he" (the layer feeds a ReLU). */
  init?: InitScheme;
  /** Seed of the initial values (with the parameter's name). */
  seed: number;
  params?: ParamFactory;
}

/** y = x W + b, W stored [inDim, outDim] so that row i holds input i's outgoing weights. */
export class Linear implements Layer {
  readonly name: string;
  readonly inDim: number;
  readonly outDim: number;
  readonly weight: Param;
  readonly bias: Param | null;
  private x: Float32Array = new Float32Array(0);
  private batch = 0;
  private readonly y = new Scratch();
  private readonly dx = new Scratch();
  /** forwardPair: the second input, the width of the first (0 after a plain forward), the second part's buffers. */
  private xb: Float32Array = new Float32Array(0);
  private da = 0;
  private readonly yb = new Scratch();
  private readonly dxb = new Scratch();
  private readonly colSums: Float64Array;

  constructor(o: LinearOptions) {
    checkDim(o.name, "inDim", o.inDim);
    checkDim(o.name, "outDim", o.outDim);
    this.name = o.name;
    this.inDim = o.inDim;
    this.outDim = o.outDim;
    const factory = o.params ?? defaultParamFactory;
    const wName = `${o.name}.weight`;
    const bound = initBound(o.init ?? "he", o.inDim, o.outDim);
    this.weight = createParam(factory, wName, o.inDim, o.outDim, uniformInit(o.inDim * o.outDim, bound, o.seed, wName));
    this.bias = (o.bias ?? true) ? createParam(factory, `${o.name}.bias`, 1, o.outDim, new Float32Array(o.outDim)) : null;
    this.colSums = new Float64Array(o.outDim);
  }

  forward(x: Float32Array, batch: number, _training: boolean): Float32Array {
    checkBatch(this.name, batch);
    checkInput(this.name, x, batch * this.inDim);
    const n = this.outDim, y = this.y.take(batch * n);
    matmul(x, this.weight.value, y, batch, this.inDim, n);
    if (this.bias) {
      const b = this.bias.value;
      for (let r = 0; r < batch; r++) {
        const o = r * n;
        for (let j = 0; j < n; j++) y[o + j] = Math.fround(y[o + j] + b[j]);
      }
    }
    this.x = x;
    this.da = 0;
    this.batch = batch;
    return y;
  }

  backward(dy: Float32Array, batch: number): Float32Array {
    checkBackward(this.name, this.batch, batch);
    if (this.da !== 0) throw new Error(`${this.name}: the last forward was forwardPair: use backwardPair`);
    checkInput(this.name, dy, batch * this.outDim);
    const n = this.outDim;
    matmulTransA(this.x, dy, this.weight.grad, this.inDim, batch, n);
    this.biasGrad(dy, batch);
    const dx = this.dx.take(batch * this.inDim);
    matmulTransB(dy, this.weight.value, dx, batch, n, this.inDim);
    return dx;
  }

  /**
   * forward([a | b]) without building the concatenation: a is batch x da,
   * b is batch x (inDim - da), and y = (a W[:da] + b W[da:]) + bias, each
   * product by the dense kernels, float32 adds in that order.
   */
  forwardPair(a: Float32Array, da: number, b: Float32Array, batch: number): Float32Array {
    checkBatch(this.name, batch);
    const db = this.inDim - da, n = this.outDim;
    if (!Number.isInteger(da) || da < 1 || db < 1) throw new RangeError(`${this.name}: split ${da} of ${this.inDim} inputs leaves an empty part`);
    checkInput(this.name, a, batch * da);
    checkInput(this.name, b, batch * db);
    const w = this.weight.value, y = this.y.take(batch * n), yb = this.yb.take(batch * n);
    matmul(a, w.subarray(0, da * n), y, batch, da, n);
    matmul(b, w.subarray(da * n), yb, batch, db, n);
    const bias = this.bias?.value;
    for (let r = 0; r < batch; r++) {
      const o = r * n;
      for (let j = 0; j < n; j++) {
        const v = Math.fround(y[o + j] + yb[o + j]);
        y[o + j] = bias ? v + bias[j] : v;
      }
    }
    this.x = a;
    this.xb = b;
    this.da = da;
    this.batch = batch;
    return y;
  }

  /** The backward of {@link forwardPair}: weight and bias grads, and the gradients of a and b. */
  backwardPair(dy: Float32Array, batch: number): [Float32Array, Float32Array] {
    checkBackward(this.name, this.batch, batch);
    if (this.da === 0) throw new Error(`${this.name}: backwardPair needs forwardPair before it`);
    checkInput(this.name, dy, batch * this.outDim);
    const n = this.outDim, da = this.da, db = this.inDim - da, w = this.weight.value, g = this.weight.grad;
    matmulTransA(this.x, dy, g.subarray(0, da * n), da, batch, n);
    matmulTransA(this.xb, dy, g.subarray(da * n), db, batch, n);
    this.biasGrad(dy, batch);
    const dxa = this.dx.take(batch * da), dxb = this.dxb.take(batch * db);
    matmulTransB(dy, w.subarray(0, da * n), dxa, batch, n, da);
    matmulTransB(dy, w.subarray(da * n), dxb, batch, n, db);
    return [dxa, dxb];
  }

  params(): Param[] {
    return this.bias ? [this.weight, this.bias] : [this.weight];
  }

  private biasGrad(dy: Float32Array, batch: number): void {
    if (!this.bias) return;
    const n = this.outDim, s = this.colSums.fill(0);
    for (let r = 0; r < batch; r++) {
      const o = r * n;
      for (let j = 0; j < n; j++) s[j] += dy[o + j];
    }
    this.bias.grad.set(s);
  }
}

/** Throws unless a layer size is a positive integer. */
export function checkDim(where: string, what: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`${where}: ${what} must be a positive integer, got ${v}`);
}
