import { test } from "node:test";
import assert from "node:assert/strict";
import { rng, randomArray, sameBits } from "../helpers/rng.js";
import { withBackend, sparseArray } from "../helpers/backend.js";
import { randomInputs, assertPasses, checkModelGradients } from "../helpers/models.js";
import {
  WASM_MIN_WORK, getMatmulBackend, matmul, matmulTransA, matmulTransATs, matmulTransB, matmulTransBTs, matmulTs,
  setMatmulBackend, type MatmulBackend,
} from "../../src/nn/matmul.js";
import { layersAvailable, layerExportsForTest, layerMemoryBytes, matmulWorkBytes } from "../../src/kernels/layers/index.js";
import { Linear, OuterProductLayer, gradCheck, type Param } from "../../src/nn/index.js";
import { MODEL_NAMES, MODEL_PRESETS, createModel, type ModelName } from "../../src/models/index.js";

type Product = (a: Float32Array, b: Float32Array, out: Float32Array, m: number, k: number, n: number) => void;

/** Each variant: the dispatching product, its TypeScript reference, and the stored sizes of a and b. */
const VARIANTS: { name: string; f: Product; ref: Product; aLen: (m: number, k: number) => number; bLen: (k: number, n: number) => number }[] = [
  { name: "matmul", f: matmul, ref: matmulTs, aLen: (m, k) => m * k, bLen: (k, n) => k * n },
  { name: "matmulTransA", f: matmulTransA, ref: matmulTransATs, aLen: (m, k) => k * m, bLen: (k, n) => k * n },
  { name: "matmulTransB", f: matmulTransB, ref: matmulTransBTs, aLen: (m, k) => m * k, bLen: (k, n) => n * k },
];

/** The wasm result and the TypeScript reference of one product, outputs pre-filled with garbage. */
function both(v: (typeof VARIANTS)[number], a: Float32Array, b: Float32Array, m: number, k: number, n: number): [Float32Array, Float32Array] {
  const w = new Float32Array(m * n).fill(NaN), t = new Float32Array(m * n).fill(12345);
  withBackend("wasm", () => v.f(a, b, w, m, k, n));
  v.ref(a, b, t, m, k, n);
  return [w, t];
}

test("the WebAssembly kernels load here", () => {
  assert.ok(layersAvailable());
});

test("wasm equals the TypeScript reference bit for bit: every m, k, n in 1..12 and random sizes up to 70", () => {
  const r = rng(11);
  const shapes: number[][] = [];
  for (let m = 1; m <= 12; m++) for (let k = 1; k <= 12; k++) for (let n = 1; n <= 12; n++) if ((m * 7 + k * 3 + n) % 5 === 0) shapes.push([m, k, n]);
  for (let i = 0; i < 150; i++) shapes.push([1 + Math.floor(r() * 70), 1 + Math.floor(r() * 70), 1 + Math.floor(r() * 70)]);
  shapes.push([1, 70, 1], [70, 1, 70], [1, 1, 70], [70, 70, 70], [33, 65, 17], [4, 4, 8], [3, 3, 9]);
  for (const [m, k, n] of shapes) {
    for (const v of VARIANTS) {
      const a = sparseArray(r, v.aLen(m, k)), b = sparseArray(r, v.bLen(k, n));
      const [w, t] = both(v, a, b, m, k, n);
      assert.ok(sameBits(w, t), `${v.name} ${m}x${k}x${n}`);
    }
  }
});

test("wasm equals the reference on the paper's forward and backward shapes", () => {
  const r = rng(12);
  // [m, k, n] per product: forward x W (batch x in x out), weight gradient x^T dy (in x batch x out), dx = dy W^T (batch x out x in).
  const layers = [
    [352, 64], [64, 32], [32, 16], [16, 1], // mlp, Avazu
    [312, 64], [64, 64], [376, 1], // dcn, Criteo
    [160, 512], [100, 512], [512, 256], [256, 128], [128, 1], // opnn, iPinYou
    [390, 400], [400, 400], [400, 1], // deepfm
  ];
  const batch = 512;
  for (const [inDim, outDim] of layers) {
    const cases: [(typeof VARIANTS)[number], number, number, number][] = [
      [VARIANTS[0], batch, inDim, outDim],
      [VARIANTS[1], inDim, batch, outDim],
      [VARIANTS[2], batch, outDim, inDim],
    ];
    for (const [v, m, k, n] of cases) {
      const a = sparseArray(r, v.aLen(m, k), 0.5), b = sparseArray(r, v.bLen(k, n), 0.5);
      const [w, t] = both(v, a, b, m, k, n);
      assert.ok(sameBits(w, t), `${v.name} ${m}x${k}x${n}`);
    }
  }
});

test("special values: signed zeros, subnormals, overflow, infinities and NaN give the reference's results", () => {
  const r = rng(13);
  const specials = [0, -0, Infinity, -Infinity, NaN, 1e-45, -1e-45, 1e-40, 3e38, -3e38, 1e-20, 1e20];
  const special = (n: number): Float32Array => {
    const a = sparseArray(r, n);
    for (let i = 0; i < n; i++) {
      if (r() < 0.3) a[i] *= 1e-38; // products and sums in the subnormal range
      else if (r() < 0.05) a[i] = specials[Math.floor(r() * specials.length)];
    }
    return a;
  };
  const bitsOrNaN = (x: Float32Array, y: Float32Array): boolean => {
    const u = new Uint32Array(x.buffer, x.byteOffset, x.length), w = new Uint32Array(y.buffer, y.byteOffset, y.length);
    for (let i = 0; i < u.length; i++) if (u[i] !== w[i] && !(Number.isNaN(x[i]) && Number.isNaN(y[i]))) return false;
    return x.length === y.length;
  };
  let nans = 0, subnormals = 0;
  for (let t = 0; t < 80; t++) {
    const m = 1 + Math.floor(r() * 24), k = 1 + Math.floor(r() * 24), n = 1 + Math.floor(r() * 24);
    for (const v of VARIANTS) {
      const a = special(v.aLen(m, k)), b = special(v.bLen(k, n));
      const [w, ref] = both(v, a, b, m, k, n);
      // NaN payloads are not part of the contract; every other bit is.
      assert.ok(bitsOrNaN(w, ref), `${v.name} ${m}x${k}x${n}`);
      for (const x of w) {
        if (Number.isNaN(x)) nans++;
        else if (x !== 0 && Math.abs(x) < 1.1754943508222875e-38) subnormals++;
      }
    }
  }
  assert.ok(nans > 0 && subnormals > 0, `the cases reach NaN (${nans}) and subnormal (${subnormals}) outputs`);
  // A sum starts at +0: all products -0 give +0, in both.
  const out = new Float32Array(4);
  withBackend("wasm", () => matmul(new Float32Array([-0, -0, -0, -0]), new Float32Array([1, 1, 1, 1]), out, 2, 2, 2));
  assert.deepEqual([...out].map((x) => Object.is(x, 0)), [true, true, true, true]);
});

test("k = 0 gives zeros; longer inputs are read only as far as needed; short arrays are rejected", () => {
  for (const b of ["wasm", "ts"] as const) {
    withBackend(b, () => {
      const out = new Float32Array(6).fill(7);
      matmul(new Float32Array(0), new Float32Array(0), out, 2, 0, 3);
      assert.deepEqual([...out], [0, 0, 0, 0, 0, 0]);
      // Longer a and b (as a layer's input may be): the first m*k and k*n floats count; out beyond m*n untouched.
      const o = new Float32Array(5).fill(9);
      matmul(new Float32Array([1, 2, 3, 4, 5, 6, 99, 99]), new Float32Array([7, 8, 9, 10, 11, 12, 99]), o, 2, 3, 2);
      assert.deepEqual([...o], [58, 64, 139, 154, 9]);
      assert.throws(() => matmul(new Float32Array(5), new Float32Array(6), new Float32Array(4), 2, 3, 2), RangeError);
      assert.throws(() => matmulTransB(new Float32Array(6), new Float32Array(6), new Float32Array(3), 2, 3, 2), RangeError);
      assert.throws(() => matmulTransA(new Float32Array(6), new Float32Array(6), new Float32Array(4), 2.5, 3, 2), RangeError);
    });
  }
  assert.throws(() => setMatmulBackend("gpu" as MatmulBackend), TypeError);
  assert.equal(getMatmulBackend(), "auto");
});

test("the work-area formula matches the module's; the memory grows and its views stay fresh", () => {
  const ex = layerExportsForTest();
  for (const [m, k, n] of [[1, 1, 1], [5, 7, 9], [512, 312, 64], [100, 3, 17], [4, 0, 8]]) {
    assert.equal(ex.sgemmWorkBytes(m, k, n), matmulWorkBytes(m, k, n), `${m}x${k}x${n}`);
  }
  const r = rng(14), v = VARIANTS[0];
  const small = (): void => {
    const a = sparseArray(r, 6 * 5), b = sparseArray(r, 5 * 7);
    const [w, t] = both(v, a, b, 6, 5, 7);
    assert.ok(sameBits(w, t));
  };
  small();
  const before = layerMemoryBytes();
  // Bigger than anything so far: the memory must grow (and the cached views be re-made).
  const m = 900, k = 700, n = 300;
  const a = sparseArray(r, m * k), b = sparseArray(r, k * n);
  const [w, t] = both(v, a, b, m, k, n);
  assert.ok(sameBits(w, t), "after growth");
  assert.ok(layerMemoryBytes() > before, "memory grew");
  small();
});

test("auto picks WebAssembly by size only, and both paths agree", () => {
  assert.ok(WASM_MIN_WORK > 0);
  const r = rng(15);
  for (const [m, k, n] of [[2, 3, 4], [8, 8, 4], [8, 8, 8], [64, 64, 64]]) {
    for (const v of VARIANTS) {
      const a = sparseArray(r, v.aLen(m, k)), b = sparseArray(r, v.bLen(k, n));
      const auto = new Float32Array(m * n), t = new Float32Array(m * n);
      v.f(a, b, auto, m, k, n);
      v.ref(a, b, t, m, k, n);
      assert.ok(sameBits(auto, t), `${v.name} ${m}x${k}x${n}`);
    }
  }
});

// ---------------------------------------------------------------------------
// Layers and models with the WebAssembly products.

const paramVars = (ps: Param[]) => ps.map((p) => ({ name: p.name, value: p.value, grad: () => p.grad }));

test("gradient checks of linear and the outer-product layer with the wasm products", () => {
  withBackend("wasm", () => {
    const r = rng(16);
    const l = new Linear({ name: "fc", inDim: 9, outDim: 7, seed: 3 });
    l.bias!.value.set(randomArray(r, 7));
    const x = randomArray(r, 6 * 9);
    let dx: Float32Array = new Float32Array(0);
    assertPasses(gradCheck(
      { forward: () => l.forward(x, 6, false), backward: (dy) => { dx = l.backward(dy, 6); } },
      [{ name: "x", value: x, grad: () => dx }, ...paramVars(l.params())],
    ));
    const p = new OuterProductLayer("product", 3, 4, 6, 5);
    for (const q of p.params()) q.value.set(randomArray(r, q.value.length, 0.5));
    const e = randomArray(r, 5 * 12, 0.5);
    let de: Float32Array = new Float32Array(0);
    assertPasses(gradCheck(
      { forward: () => p.forward(e, 5, false), backward: (dy) => { de = p.backward(dy, 5); } },
      [{ name: "x", value: e, grad: () => de }, ...paramVars(p.params())],
    ));
  });
});

for (const name of MODEL_NAMES) {
  test(`${name}: finite-difference gradients with the wasm products`, () => {
    // The configuration and seeds of test/unit/models.test.ts, now through the wasm products.
    withBackend("wasm", () => checkModelGradients(name));
  });
}

/** Two training steps (forward with dropout, backward) of a preset; returns logits, input grads and parameter grads. */
function twoSteps(name: ModelName, batch: number): Float32Array[] {
  const r = rng(300);
  const m = createModel(name, { ...MODEL_PRESETS[name], seed: 42 });
  const xs = randomInputs(m, batch, r, 0.05);
  const got: Float32Array[] = [];
  for (let step = 0; step < 2; step++) {
    got.push(m.forward(xs, batch, true).slice());
    got.push(...m.backward(randomArray(r, batch), batch).map((g) => g.slice()));
    got.push(...m.params().map((p) => p.grad.slice()));
    // A plain SGD step, so that the second step runs on changed weights.
    for (const p of m.params()) for (let i = 0; i < p.value.length; i++) p.value[i] = Math.fround(p.value[i] - 0.1 * p.grad[i]);
  }
  return got;
}

test("presets at batch 64: the wasm, TypeScript and auto backends give the same model bit for bit, run after run", () => {
  for (const name of MODEL_NAMES) {
    const ts = withBackend("ts", () => twoSteps(name, 64));
    const wasm = withBackend("wasm", () => twoSteps(name, 64));
    const wasm2 = withBackend("wasm", () => twoSteps(name, 64));
    const auto = twoSteps(name, 64);
    assert.equal(wasm.length, ts.length);
    ts.forEach((t, i) => {
      assert.ok(sameBits(wasm[i], t), `${name}: array ${i}, wasm vs ts`);
      assert.ok(sameBits(wasm2[i], t), `${name}: array ${i}, wasm rerun`);
      assert.ok(sameBits(auto[i], t), `${name}: array ${i}, auto vs ts`);
    });
  }
});
