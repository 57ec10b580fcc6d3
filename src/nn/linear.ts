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
    this.batch = batch;
    return y;
  }

  backward(dy: Float32Array, batch: number): Float32Array {
    checkBackward(this.name, this.batch, batch);
    checkInput(this.name, dy, batch * this.outDim);
    const n = this.outDim;
    matmulTransA(this.x, dy, this.weight.grad, this.inDim, batch, n);
    if (this.bias) {
      const s = this.colSums.fill(0);
      for (let r = 0; r < batch; r++) {
        const o = r * n;
        for (let j = 0; j < n; j++) s[j] += dy[o + j];
      }
      this.bias.grad.set(s);
    }
    const dx = this.dx.take(batch * this.inDim);
    matmulTransB(dy, this.weight.value, dx, batch, n, this.inDim);
    return dx;
  }

  params(): Param[] {
    return this.bias ? [this.weight, this.bias] : [this.weight];
  }
}

/** Throws unless a layer size is a positive integer. */
export function checkDim(where: string, what: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`${where}: ${what} must be a positive integer, got ${v}`);
}
