// The weighted sums of a data-parallel round's gradients: the kernels
// (addScaled, scaleBy: WebAssembly SIMD and the TypeScript twin) give every
// float as the plain loop `s[i] += x[i] * w` / `s[i] *= w` on a Float32Array
// gives it, for weight 1 (the float32 add), 0 and weights that are not
// float32 (a worker's share of the round's rows); and DenseParam.stepSum
// steps a parameter, bit for bit, as that loop's sum stepped by step() does
// (each optimizer kind, a row range, the Hessian estimates of AdaHessian);
// and three workers' RoundStep (split, sync, sequential) leave in the shared
// weights what the plain loops' step of whole parameters gives.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Arena } from "../../src/kernels/arena.js";
import { createOptimizer, type OptimizerName } from "../../src/index.js";
import { DenseParam } from "../../src/optim/dense.js";
import { randomArray, rng } from "../helpers/rng.js";

const SPECIAL = [0, -0, 1e-45, -1e-45, 1.1754942e-38, 3e38, -3e38, Infinity, -Infinity, 1.5, -2.25, 16777217];

/** Same floats: equal bit patterns, or both NaN (a NaN's sign and payload are the hardware's). */
function sameFloats(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length, what);
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length), y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i]) && Number.isNaN(b[i])) continue;
    assert.equal(x[i].toString(16), y[i].toString(16), `${what}: float ${i}: ${a[i]} against ${b[i]}`);
  }
}

function values(r: () => number, n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = r() < 0.25 ? SPECIAL[Math.floor(r() * SPECIAL.length)] : (r() - 0.5) * 10 ** Math.floor(r() * 8 - 4);
  return a;
}

test("addScaled and scaleBy (wasm and ts) round every float as s[i] += x[i] * w and s[i] *= w on a Float32Array", () => {
  for (const w of [1, 0, -1, 0.5, 1 / 3, 0.1, 2.5e-4, 7 / 512, 1e30]) {
    for (const n of [0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 100, 1001]) {
      const r = rng(n * 7 + Math.round(w * 1000));
      const s = values(r, n), x = values(r, n);
      const add = s.slice(), scaled = s.slice();
      for (let i = 0; i < n; i++) add[i] += x[i] * w;
      for (let i = 0; i < n; i++) scaled[i] *= w;
      for (const backend of ["wasm", "ts"] as const) {
        const a = new Arena(backend), heap = a.heap;
        // Odd offsets of a float: the kernels take any 4-byte-aligned address.
        const pd = heap.alloc(4 * n + 32) + 4, ps = heap.alloc(4 * n + 32) + 12;
        heap.f32.set(s, pd >>> 2);
        heap.f32.set(x, ps >>> 2);
        heap.f32[(pd >>> 2) + n] = 42;
        a.kernels.addScaled(pd, ps, n, w);
        sameFloats(heap.f32.slice(pd >>> 2, (pd >>> 2) + n), add, `${backend} addScaled w=${w} n=${n}`);
        assert.equal(heap.f32[(pd >>> 2) + n], 42, "nothing written past n");
        heap.f32.set(s, pd >>> 2);
        a.kernels.scaleBy(pd, n, w);
        sameFloats(heap.f32.slice(pd >>> 2, (pd >>> 2) + n), scaled, `${backend} scaleBy w=${w} n=${n}`);
        assert.equal(heap.f32[(pd >>> 2) + n], 42, "nothing written past n");
        assert.deepEqual([...x], [...heap.f32.slice(ps >>> 2, (ps >>> 2) + n)].map((v, i) => (Number.isNaN(v) && Number.isNaN(x[i]) ? x[i] : v)), "the source is not written");
      }
    }
  }
});

test("stepSum steps as the plain loop's weighted sum stepped by step(), bit for bit (optimizers, weights, a row range, Hessian estimates)", () => {
  const cases: [OptimizerName, number[]][] = [
    ["group-adam", [1, 1, 1]], ["group-adam", [0.25, 0.5, 0.25]], ["adam", [1, 0, 1, 1]], ["group-adagrad", [1 / 3, 1 / 3, 1 / 3]],
    ["momentum", [1]], ["group-adahessian", [1, 1]], ["group-adahessian", [0.7, 0.3]], ["sgd", [0, 1]],
  ];
  for (const [name, weights] of cases) {
    for (const backend of ["wasm", "ts"] as const) {
      for (const range of [undefined, { start: 3, end: 9 }, { start: 5, end: 5 }]) {
        const rows = 11, d = 6, r = rng(weights.length * 100 + name.length);
        const init = randomArray(r, rows * d, 0.3);
        const hyper = name.startsWith("group-") ? { lr: 0.01, l1: 1e-3, l21: 2e-2 } : { lr: 0.01 };
        const opt = createOptimizer(name, hyper, { backend });
        const a = opt.dense(init.slice(), { rows, rowLength: d }), b = opt.dense(init.slice(), { rows, rowLength: d });
        const hess = name.endsWith("adahessian");
        for (let t = 0; t < 12; t++) {
          const grads = weights.map(() => randomArray(r, rows * d, 0.2));
          const hessians = hess ? weights.map(() => randomArray(r, rows * d, 1).map(Math.abs)) : undefined;
          const hw = weights.map((_, k) => (k + 1) / weights.length);
          const lr = t % 3 === 0 ? 0.02 : undefined;
          a.stepSum(grads, weights, lr, hessians ? { arrays: hessians, weights: hw } : undefined, range);
          // The reference: the weighted sums made with the plain loop, then one step.
          const sum = (arrays: Float32Array[], ws: number[]): Float32Array => {
            const s = arrays[0].slice();
            if (ws[0] !== 1) for (let i = 0; i < s.length; i++) s[i] *= ws[0];
            for (let k = 1; k < arrays.length; k++) for (let i = 0; i < s.length; i++) s[i] += arrays[k][i] * ws[k];
            return s;
          };
          b.step(sum(grads, weights), { ...(lr !== undefined ? { lr } : {}), ...(hessians ? { hessian: sum(hessians, hw) } : {}) }, range);
          sameFloats(a.weights(), b.weights(), `${name} ${backend} ${weights} rows ${JSON.stringify(range)} step ${t}`);
          assert.deepEqual(a.save(), b.save(), `${name} ${backend} ${weights}: the whole state, step ${t}`);
        }
        // The sums left the arrays alone, and the parameter answers as one stepped whole.
        assert.equal(a.stepCount, 12);
        assert.equal(a.zeroRows, b.zeroRows);
      }
    }
  }
});

test("stepSum refuses weights that do not match the arrays, and arrays of the wrong length, naming the optimizer", () => {
  const p = createOptimizer("group-adam", { lr: 0.01 }).dense(new Float32Array(12), { rows: 3, rowLength: 4 });
  const g = new Float32Array(12);
  assert.throws(() => p.stepSum([g, g], [1]), /group-adam: 2 gradient arrays with 1 weights/);
  assert.throws(() => p.stepSum([], []), /group-adam: 0 gradient arrays/);
  assert.throws(() => p.stepSum([g, new Float32Array(11)], [1, 1], undefined, undefined, { start: 1, end: 2 }), /group-adam: gradient has 11 values, expected 12/);
  assert.throws(() => p.stepSum([g, g], [1, 1], undefined, { arrays: [g], weights: [1] }), /only used by adahessian/);
  assert.equal(p.stepCount, 0, "a refused step leaves the step count");
});

test("RoundStep: each worker's rows of a round's step (split, sync, sequential; workers without rows; AdaHessian) as the plain loops give them, bit for bit, over rounds", async () => {
  const { RoundStep } = await import("../../src/train/parallel-dense.js");
  const { denseSlices } = await import("../../src/train/parallel-protocol.js");
  const shapes = [{ rows: 7, rowLength: 3 }, { rows: 4, rowLength: 8 }, { rows: 1, rowLength: 5 }];
  const P = shapes.reduce((a, s) => a + s.rows * s.rowLength, 0);
  for (const name of ["group-adam", "group-adahessian"] as const) {
    for (const mode of ["split", "sync", "sequential"] as const) {
      const workers = 3, r = rng(mode.length * 7 + name.length);
      const opt = createOptimizer(name, { lr: 0.01, l21: 1e-2 });
      const inits = shapes.map((s) => randomArray(r, s.rows * s.rowLength, 0.3));
      // Each worker's copy of the parameters, stepping its rows; the reference steps whole copies.
      const mine = Array.from({ length: workers }, () => shapes.map((s, i) => opt.dense(inits[i].slice(), s)));
      const ref = shapes.map((s, i) => opt.dense(inits[i].slice(), s));
      const slices = denseSlices(mine[0], workers);
      const grads = new Float32Array(workers * P), hess = new Float32Array(workers * P), rowsOf = [0, 0, 0];
      const weights = new Float32Array(P);
      const g = {
        block: (k: number) => grads.subarray(k * P, (k + 1) * P),
        ...(name === "group-adahessian" ? { hessian: (k: number) => hess.subarray(k * P, (k + 1) * P) } : {}),
        rows: (k: number) => rowsOf[k],
      };
      const steps = mine.map((dense, w) => new RoundStep(mode, dense, slices[w], g, workers, weights));
      for (let round = 0; round < 10; round++) {
        for (let i = 0; i < grads.length; i++) { grads[i] = (r() - 0.5) * 0.1; hess[i] = r(); }
        // Some rounds leave a worker (worker 0 too) without rows.
        for (let k = 0; k < workers; k++) rowsOf[k] = r() < 0.25 ? 0 : 1 + Math.floor(r() * 100);
        if (round === 3) rowsOf.fill(0);
        // A parameter's memory that grows (an unshared memory: its views are detached) after the first round, and the
        // parameters replaced by copies of their states later (a worker's reload after an exchange): the views are made again.
        if (round === 1) for (const dense of mine) dense[0].arena.heap.memory.grow(1);
        if (round === 5) for (const dense of mine) dense.forEach((p, i) => { dense[i] = DenseParam.load(p.save()); p.dispose(); });
        steps.forEach((s) => s.step());
        // The reference: the plain loops over whole parameters.
        const rows = rowsOf.reduce((a, b) => a + b, 0);
        let o = 0;
        ref.forEach((p, i) => {
          const len = shapes[i].rows * shapes[i].rowLength, at = (a: Float32Array, k: number) => a.subarray(k * P + o, k * P + o + len);
          const hOf = (k: number) => (name === "group-adahessian" ? { hessian: at(hess, k) } : {});
          if (rows === 0) { o += len; return; }
          if (mode === "sequential") {
            for (let k = 0; k < workers; k++) if (rowsOf[k] > 0) p.step(at(grads, k), { lr: 0.01, ...hOf(k) });
          } else {
            const wOf = (k: number) => (mode === "split" ? (rowsOf[k] > 0 ? 1 : 0) : rowsOf[k] / rows);
            const sum = at(grads, 0).slice(), hs = at(hess, 0).slice();
            if (wOf(0) !== 1) for (let j = 0; j < len; j++) sum[j] *= wOf(0);
            if (rowsOf[0] / rows !== 1) for (let j = 0; j < len; j++) hs[j] *= rowsOf[0] / rows;
            for (let k = 1; k < workers; k++) {
              if (rowsOf[k] === 0) continue;
              const x = at(grads, k), h = at(hess, k);
              for (let j = 0; j < len; j++) { sum[j] += x[j] * wOf(k); hs[j] += h[j] * (rowsOf[k] / rows); }
            }
            p.step(sum, { lr: 0.01 * (mode === "split" ? 1 : workers), ...(name === "group-adahessian" ? { hessian: hs } : {}) });
          }
          o += len;
        });
        // The shared weights hold every worker's rows: the reference's weights.
        o = 0;
        ref.forEach((p, i) => {
          sameFloats(weights.subarray(o, o + p.rows * p.rowLength), p.weights(), `${name} ${mode} round ${round} parameter ${i}`);
          o += p.rows * p.rowLength;
        });
      }
    }
  }
});
