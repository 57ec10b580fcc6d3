import { test } from "node:test";
import assert from "node:assert/strict";
import { rng, randomArray, sameBits } from "../helpers/rng.js";
import {
  CrossLayer, CrossNet, Dropout, FmLayer, Linear, OuterProductLayer, Relu, Sequential,
  gradCheck, matmul, matmulTransA, matmulTransB, sigmoidLogLoss,
  type CrossGrads, type GradCheckResult, type GradCheckVar, type Layer, type Param, type ParamFactory,
} from "../../src/nn/index.js";

/** Fails with every mismatch listed; also fails when too many elements sat on kinks to be checked. */
function assertPasses(results: GradCheckResult[], maxSkipFraction = 0.05): void {
  for (const r of results) {
    assert.ok(r.checked > 0, `${r.name}: nothing checked`);
    assert.deepEqual(r.failures, [], `${r.name}: gradient mismatch`);
    assert.ok(r.skipped <= maxSkipFraction * r.checked, `${r.name}: ${r.skipped} of ${r.checked} elements on kinks`);
  }
}

const paramVars = (ps: Param[]): GradCheckVar[] => ps.map((p) => ({ name: p.name, value: p.value, grad: () => p.grad }));

/** Gradient check of a one-input layer w.r.t. its input and all its parameters. */
function checkLayer(layer: Layer, x: Float32Array, batch: number, training = false, before?: () => void): GradCheckResult[] {
  let dx: Float32Array = new Float32Array(0);
  return gradCheck(
    {
      forward: () => { before?.(); return layer.forward(x, batch, training); },
      backward: (dy) => { dx = layer.backward(dy, batch); },
    },
    [{ name: "x", value: x, grad: () => dx }, ...paramVars(layer.params())],
  );
}

/** The matmul contract: sequential float32 sums over p of float32 products. */
function naive(a: (i: number, p: number) => number, b: (p: number, j: number) => number, m: number, k: number, n: number): Float32Array {
  const out = new Float32Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
    let c = 0;
    for (let p = 0; p < k; p++) c = Math.fround(c + Math.fround(a(i, p) * b(p, j)));
    out[i * n + j] = c;
  }
  return out;
}

test("matmul, matmulTransA, matmulTransB follow the float32 contract bit for bit, ragged sizes included", () => {
  const r = rng(1);
  for (const [m, k, n] of [[1, 1, 1], [4, 4, 4], [5, 3, 7], [9, 6, 1], [1, 13, 9], [8, 17, 12], [6, 0, 5]]) {
    const a = randomArray(r, m * k), b = randomArray(r, k * n), out = new Float32Array(m * n).fill(NaN);
    matmul(a, b, out, m, k, n);
    assert.ok(sameBits(out, naive((i, p) => a[i * k + p], (p, j) => b[p * n + j], m, k, n)), `matmul ${m}x${k}x${n}`);
    const at = randomArray(r, k * m);
    matmulTransA(at, b, out, m, k, n);
    assert.ok(sameBits(out, naive((i, p) => at[p * m + i], (p, j) => b[p * n + j], m, k, n)), `transA ${m}x${k}x${n}`);
    const bt = randomArray(r, n * k);
    matmulTransB(a, bt, out, m, k, n);
    assert.ok(sameBits(out, naive((i, p) => a[i * k + p], (p, j) => bt[j * k + p], m, k, n)), `transB ${m}x${k}x${n}`);
  }
  // And it is a matrix product: a known 2x3 * 3x2.
  const out = new Float32Array(4);
  matmul(new Float32Array([1, 2, 3, 4, 5, 6]), new Float32Array([7, 8, 9, 10, 11, 12]), out, 2, 3, 2);
  assert.deepEqual([...out], [58, 64, 139, 154]);
});

test("linear with and without bias: dx, weight and bias gradients", () => {
  const r = rng(2);
  for (const bias of [true, false]) {
    const l = new Linear({ name: "fc", inDim: 7, outDim: 6, bias, seed: 3 });
    assert.equal(l.params().length, bias ? 2 : 1);
    assert.deepEqual([l.weight.rows, l.weight.rowLength], [7, 6]);
    if (l.bias) l.bias.value.set(randomArray(r, 6)); // biases start at 0; make them matter
    assertPasses(checkLayer(l, randomArray(r, 5 * 7), 5));
  }
});

test("linear computes x W + b with W stored [fanIn, fanOut]", () => {
  const l = new Linear({ name: "fc", inDim: 2, outDim: 3, seed: 0 });
  l.weight.value.set([1, 2, 3, 4, 5, 6]); // row 0: outgoing weights of input 0
  l.bias!.value.set([0.5, 0, -1]);
  assert.deepEqual([...l.forward(new Float32Array([1, 10]), 1, false)], [41.5, 52, 62]);
});

test("relu: forward, and gradients away from the kink", () => {
  const relu = new Relu(5);
  assert.deepEqual([...relu.forward(new Float32Array([-2, 0, 3, -0.5, 1]), 1, false)], [0, 0, 3, 0, 1]);
  assert.deepEqual([...relu.backward(new Float32Array([1, 1, 1, 1, 1]), 1)], [0, 0, 1, 0, 1]);
  const r = rng(3), x = randomArray(r, 4 * 5);
  for (let i = 0; i < x.length; i++) if (Math.abs(x[i]) < 0.05) x[i] = 0.5; // central differences would straddle 0
  assertPasses(checkLayer(relu, x, 4));
});

test("dropout: inverted scaling, seeded masks, identity in evaluation, gradient with a fixed mask", () => {
  const r = rng(4), n = 20000, x = new Float32Array(n).fill(1);
  const d = new Dropout(n, 0.5, 7);
  const y = d.forward(x, 1, true);
  let kept = 0;
  for (const v of y) {
    assert.ok(v === 0 || v === 2, `value ${v}`);
    if (v === 2) kept++;
  }
  assert.ok(Math.abs(kept / n - 0.5) < 0.02, `kept ${kept / n}`);
  const first = y.slice(), second = d.forward(x, 1, true).slice();
  assert.ok(!sameBits(first, second), "the mask stream advances");
  d.reseed(7);
  assert.ok(sameBits(d.forward(x, 1, true), first), "reseed replays the masks");
  assert.ok(sameBits(new Dropout(n, 0.5, 7).forward(x, 1, true), first), "same seed, same masks");
  assert.ok(!sameBits(new Dropout(n, 0.5, 8).forward(x, 1, true), first), "another seed, other masks");
  assert.equal(d.forward(x, 1, false), x, "evaluation passes the input through");
  const g = randomArray(r, n);
  assert.equal(d.backward(g, 1), g);

  const small = new Dropout(6, 0.3, 11), xs = randomArray(r, 3 * 6);
  assertPasses(checkLayer(small, xs, 3, true, () => small.reseed(5)));
  assert.throws(() => new Dropout(4, 1, 0), /rate/);
});

test("DCN cross layer: x0 * (x_l . w) + b + x_l, gradients w.r.t. x0, x_l, w and b", () => {
  const r = rng(5), dim = 6, batch = 4;
  const c = new CrossLayer("cross.0", dim, 9);
  assert.deepEqual([c.w.rows, c.w.rowLength, c.b.rows, c.b.rowLength], [dim, 1, 1, dim]);
  c.b.value.set(randomArray(r, dim));
  const x0 = randomArray(r, batch * dim), xl = randomArray(r, batch * dim);
  // Against the formula, in float64.
  const y = c.forward(x0, xl, batch);
  for (let s = 0; s < batch; s++) {
    let dot = 0;
    for (let j = 0; j < dim; j++) dot += xl[s * dim + j] * c.w.value[j];
    for (let j = 0; j < dim; j++) {
      const want = x0[s * dim + j] * dot + c.b.value[j] + xl[s * dim + j];
      assert.ok(Math.abs(y[s * dim + j] - want) < 1e-5, `y[${s},${j}]`);
    }
  }
  let g: CrossGrads = { dx0: new Float32Array(0), dxl: new Float32Array(0) };
  assertPasses(gradCheck(
    { forward: () => c.forward(x0, xl, batch), backward: (dy) => { g = c.backward(dy, batch); } },
    [{ name: "x0", value: x0, grad: () => g.dx0 }, { name: "xl", value: xl, grad: () => g.dxl }, ...paramVars(c.params())],
  ));
});

test("cross network of three layers: x0's gradient through every layer and the x_l chain", () => {
  const r = rng(6), net = new CrossNet("cross", 5, 3, 2);
  for (const p of net.params()) p.value.set(randomArray(r, p.value.length, 0.5));
  assert.equal(net.params().length, 6);
  assertPasses(checkLayer(net, randomArray(r, 3 * 5), 3));
  const none = new CrossNet("cross", 5, 0, 2), x = randomArray(r, 10);
  assert.ok(sameBits(none.forward(x, 2, false), x));
});

test("OPNN outer-product layer (sum pooling) with its ReLU: forward against the formula and gradients", () => {
  const r = rng(7), fields = 3, d = 4, out = 5, batch = 2;
  const l = new OuterProductLayer("product", fields, d, out, 1);
  assert.deepEqual(l.params().map((p) => [p.name, p.rows, p.rowLength]), [
    ["product.z.weight", fields * d, out], ["product.z.bias", 1, out], ["product.p.weight", d * d, out],
  ]);
  l.lz.bias!.value.set(randomArray(r, out));
  const x = randomArray(r, batch * fields * d);
  const y = l.forward(x, batch, false);
  const wz = l.lz.weight.value, bz = l.lz.bias!.value, wp = l.lp.weight.value;
  for (let s = 0; s < batch; s++) {
    const f = new Float64Array(d);
    for (let i = 0; i < fields; i++) for (let k = 0; k < d; k++) f[k] += x[s * fields * d + i * d + k];
    for (let o = 0; o < out; o++) {
      let want = bz[o];
      for (let q = 0; q < fields * d; q++) want += x[s * fields * d + q] * wz[q * out + o];
      for (let a = 0; a < d; a++) for (let c = 0; c < d; c++) want += f[a] * f[c] * wp[(a * d + c) * out + o];
      want = Math.max(0, want); // the layer includes its ReLU
      assert.ok(Math.abs(y[s * out + o] - want) < 1e-4 * (1 + Math.abs(want)), `y[${s},${o}] ${y[s * out + o]} vs ${want}`);
    }
  }
  assertPasses(checkLayer(l, x, batch));
});

test("FM second-order term equals the sum over field pairs of <e_i, e_j>; gradient", () => {
  const r = rng(8), fields = 4, d = 3, batch = 3, fm = new FmLayer(fields, d);
  const x = randomArray(r, batch * fields * d);
  const y = fm.forward(x, batch, false);
  for (let s = 0; s < batch; s++) {
    let want = 0;
    for (let i = 0; i < fields; i++) for (let j = i + 1; j < fields; j++) for (let k = 0; k < d; k++) {
      want += x[s * fields * d + i * d + k] * x[s * fields * d + j * d + k];
    }
    assert.ok(Math.abs(y[s] - want) < 1e-5, `sample ${s}`);
  }
  assertPasses(checkLayer(fm, x, batch));
});

test("a Linear-ReLU-Dropout-Linear stack in training mode with fixed masks", () => {
  const r = rng(9);
  const drop = new Dropout(8, 0.25, 3, "d");
  const net = new Sequential([new Linear({ name: "a", inDim: 6, outDim: 8, seed: 1 }), new Relu(8), drop,
    new Linear({ name: "b", inDim: 8, outDim: 3, init: "glorot", seed: 1 })]);
  assertPasses(checkLayer(net, randomArray(r, 5 * 6), 5, true, () => net.reseed(4)));
});

test("the gradient check fails on wrong gradients (a 3% error in one weight, a missing x_l term)", () => {
  const r = rng(10);
  const l = new Linear({ name: "fc", inDim: 4, outDim: 3, seed: 1 });
  const x = randomArray(r, 2 * 4);
  const bad = gradCheck(
    { forward: () => l.forward(x, 2, false), backward: (dy) => { l.backward(dy, 2); l.weight.grad[5] *= 1.03; } },
    paramVars(l.params()),
  );
  assert.deepEqual(bad.map((b) => b.failures.length), [1, 0]);
  assert.match(bad[0].failures[0], /fc\.weight\[5\]/);

  const c = new CrossLayer("c", 4, 1), x0 = randomArray(r, 8), xl = randomArray(r, 8);
  let dxl: Float32Array = new Float32Array(0);
  const missing = gradCheck(
    {
      forward: () => c.forward(x0, xl, 2),
      backward: (dy) => { dxl = c.backward(dy, 2).dxl.map((v, i) => v - dy[i]); }, // drops the identity path
    },
    [{ name: "xl", value: xl, grad: () => dxl }],
  );
  assert.ok(missing[0].failures.length > 0);
});

test("sigmoidLogLoss: value, d(mean loss)/d(logit), stable for large |z|, label checks", () => {
  const z = new Float32Array([0, 2, -3, 40, -40, 200, -200]), y = new Float32Array([1, 0, 0, 1, 1, 0, 1]);
  const dz = new Float32Array(z.length), n = z.length;
  const mean = sigmoidLogLoss(z, y, n, dz);
  const ref = [Math.LN2, Math.log(1 + Math.exp(2)), Math.log(1 + Math.exp(-3)), Math.log1p(Math.exp(-40)), 40, 200, 200];
  assert.ok(Math.abs(mean - ref.reduce((a, b) => a + b) / n) < 1e-9, `mean ${mean}`);
  assert.ok(Number.isFinite(mean));
  const sig = (t: number) => 1 / (1 + Math.exp(-t));
  for (let i = 0; i < n; i++) assert.ok(Math.abs(dz[i] - (sig(z[i]) - y[i]) / n) < 1e-7, `dz[${i}]`);
  // Central differences of the mean loss itself.
  const zs = new Float32Array([0.3, -1.2, 2.5]), ys = [1, 0, 0.25], g = new Float32Array(3);
  sigmoidLogLoss(zs, ys, 3, g);
  for (let i = 0; i < 3; i++) {
    const p = zs.slice(), m = zs.slice();
    p[i] += 1e-2; m[i] -= 1e-2;
    const num = (sigmoidLogLoss(p, ys, 3) - sigmoidLogLoss(m, ys, 3)) / (p[i] - m[i]);
    assert.ok(Math.abs(num - g[i]) < 1e-4, `d/dz${i}: ${num} vs ${g[i]}`);
  }
  assert.throws(() => sigmoidLogLoss(zs, [1, 2, 0], 3), /label 1/);
  assert.throws(() => sigmoidLogLoss(zs, [1, NaN, 0], 3), /label 1/);
  assert.throws(() => sigmoidLogLoss(zs, [1], 3), /need 3/);
});

test("buffers follow the batch size; backward checks it; grads are overwritten, not accumulated", () => {
  const r = rng(11), l = new Linear({ name: "fc", inDim: 3, outDim: 2, seed: 5 });
  for (const b of [3, 7, 2]) assert.equal(l.forward(randomArray(r, b * 3), b, false).length, b * 2);
  assert.throws(() => l.backward(new Float32Array(6), 3), /differs from the forward batch 2/);
  assert.throws(() => l.forward(new Float32Array(5), 2, false), /at least 6/);
  assert.throws(() => new Linear({ name: "fc", inDim: 3, outDim: 2, seed: 5 }).backward(new Float32Array(2), 1), /before forward/);
  const dy = randomArray(r, 4);
  l.backward(dy, 2);
  const once = l.weight.grad.slice();
  l.backward(dy, 2);
  assert.ok(sameBits(l.weight.grad, once));
});

test("the parameter factory places the weights; initial values are seeded", () => {
  const pool = new Float32Array(100), calls: string[] = [];
  let used = 0;
  const factory: ParamFactory = (name, rows, rowLength, init) => {
    calls.push(`${name} ${rows}x${rowLength}`);
    const v = pool.subarray(used, used + rows * rowLength);
    v.set(init);
    used += rows * rowLength;
    return v;
  };
  const l = new Linear({ name: "fc", inDim: 4, outDim: 3, seed: 2, params: factory });
  assert.deepEqual(calls, ["fc.weight 4x3", "fc.bias 1x3"]);
  assert.equal(l.weight.value.buffer, pool.buffer);
  pool.fill(0, 0, 12); // the optimizer zeroes the weights in its memory: the layer sees it
  assert.ok(l.forward(new Float32Array([1, 2, 3, 4]), 1, false).every((v) => v === 0));
  assert.throws(() => new Linear({ name: "fc", inDim: 4, outDim: 3, seed: 2, params: () => new Float32Array(5) }), /12 floats/);

  const a = new Linear({ name: "fc", inDim: 30, outDim: 20, seed: 2 }), b = new Linear({ name: "fc", inDim: 30, outDim: 20, seed: 2 });
  assert.ok(sameBits(a.weight.value, b.weight.value));
  assert.ok(!sameBits(a.weight.value, new Linear({ name: "fc", inDim: 30, outDim: 20, seed: 3 }).weight.value));
  const bound = Math.sqrt(6 / 30); // He uniform
  const w = a.weight.value;
  assert.ok(w.every((v) => Math.abs(v) <= bound) && Math.max(...w.map(Math.abs)) > 0.9 * bound);
});
