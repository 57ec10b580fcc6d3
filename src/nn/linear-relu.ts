import type { Layer } from "./layer.js";
import type { Param } from "./param.js";
import { Linear, type LinearOptions } from "./linear.js";
import { matmul, matmulTransA, matmulTransB, runsInWasm } from "./matmul.js";
import { matmulFits, layerLinearReluBackward, layerLinearReluForward, linearReluBytes } from "../kernels/layers/index.js";
import { Scratch, checkBackward, checkBatch, checkInput } from "./scratch.js";

/**
 * A hidden layer: y = relu(x W + b), the same function, parameters (names,
 * initial values) and float32 arithmetic as a {@link Linear} followed by a
 * {@link Relu}, but with the bias, the ReLU and their backward (the mask and
 * the bias gradient) fused into the WebAssembly products, so that the
 * activations cross into kernel memory once per pass instead of being walked
 * by TypeScript loops. The TypeScript path below is the reference (backend
 * "ts"); both give the same bits:
 * - forward: the product, then v = x W + b rounded to float32, v <= 0 ? +0 : v;
 * - backward: dz = y > 0 ? dy : +0; dW = x^T dz; db = column sums of dz in
 *   float64, rows in order, rounded once; dx = dz W^T.
 */
/** Whether a fused step of this size runs in WebAssembly: the products' backend switch decides ("auto": when it loads and fits). */
function fusedHere(batch: number, k: number, n: number): boolean {
  return runsInWasm(() => matmulFits(batch, k, n) && linearReluBytes(batch, k, n) <= 2 ** 32 - 65536);
}

/**
 * y[batch x n] = relu(x w + b) with the contract of {@link LinearRelu}, in
 * WebAssembly or TypeScript (the same bits).
 */
export function linearReluForward(x: Float32Array, w: Float32Array, b: Float32Array, y: Float32Array, batch: number, k: number, n: number): void {
  if (fusedHere(batch, k, n)) {
    layerLinearReluForward(x, w, b, y, batch, k, n);
    return;
  }
  matmul(x, w, y, batch, k, n);
  for (let r = 0; r < batch; r++) {
    const o = r * n;
    for (let j = 0; j < n; j++) {
      const v = Math.fround(y[o + j] + b[j]);
      y[o + j] = v <= 0 ? 0 : v;
    }
  }
}

/** The bias gradient's float64 sums of the TypeScript path, kept between calls (it runs once per layer and batch). */
let sums = new Float64Array(0);

/**
 * Its backward from dy and the forward's output y: dw, db and dx (see
 * {@link LinearRelu}); dz is scratch of batch * n floats for the TypeScript path.
 */
export function linearReluBackward(
  dy: Float32Array, y: Float32Array, x: Float32Array, w: Float32Array, dw: Float32Array, db: Float32Array, dx: Float32Array,
  dz: Float32Array, batch: number, k: number, n: number,
): void {
  if (fusedHere(batch, k, n)) {
    layerLinearReluBackward(dy, y, x, w, dw, db, dx, batch, k, n);
    return;
  }
  if (sums.length < n) sums = new Float64Array(n);
  const s = sums.fill(0, 0, n);
  for (let r = 0; r < batch; r++) {
    const o = r * n;
    for (let j = 0; j < n; j++) {
      const g = y[o + j] > 0 ? dy[o + j] : 0;
      dz[o + j] = g;
      s[j] += g;
    }
  }
  db.set(s.subarray(0, n));
  matmulTransA(x, dz, dw, k, batch, n);
  matmulTransB(dz, w, dx, batch, n, k);
}

export class LinearRelu implements Layer {
  readonly name: string;
  readonly inDim: number;
  readonly outDim: number;
  private readonly linear: Linear;
  private x: Float32Array = new Float32Array(0);
  private batch = 0;
  private readonly y = new Scratch();
  private readonly dz = new Scratch();
  private readonly dx = new Scratch();

  constructor(o: LinearOptions) {
    this.linear = new Linear(o);
    this.name = o.name;
    this.inDim = o.inDim;
    this.outDim = o.outDim;
  }

  get weight(): Param { return this.linear.weight; }
  get bias(): Param { return this.linear.bias!; }

  forward(x: Float32Array, batch: number, _training: boolean): Float32Array {
    checkBatch(this.name, batch);
    checkInput(this.name, x, batch * this.inDim);
    const k = this.inDim, n = this.outDim, y = this.y.take(batch * n);
    linearReluForward(x, this.weight.value, this.bias.value, y, batch, k, n);
    this.x = x;
    this.batch = batch;
    return y;
  }

  backward(dy: Float32Array, batch: number): Float32Array {
    checkBackward(this.name, this.batch, batch);
    checkInput(this.name, dy, batch * this.outDim);
    const k = this.inDim, n = this.outDim, y = this.y.take(batch * n), dx = this.dx.take(batch * k);
    linearReluBackward(dy, y, this.x, this.weight.value, this.weight.grad, this.bias.grad, dx, this.dz.take(batch * n), batch, k, n);
    return dx;
  }

  params(): Param[] {
    return this.linear.params();
  }
}
