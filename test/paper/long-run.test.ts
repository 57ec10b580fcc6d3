// Runs far past the point where Adam's bias corrections are exactly 1.0 in
// float32 (about 17,000 steps at beta2 = 0.999), where the bias-correction
// table stops growing and the kernels read its last entry: the iterates still
// follow the textbook formulas (float64 reference, no library code), dense
// and lazy, on both backends, and the table's memory stays bounded.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createOptimizer } from "../../src/index.js";
import { Rng, relErr } from "../helpers/ref-rng.js";
import { Arena } from "../../src/kernels/arena.js";
import { StepCall, saturation } from "../../src/optim/call.js";
import { resolveHyperparams } from "../../src/optim/hyper.js";

const STEPS = 25_000, D = 4, LR = 1e-3, B1 = 0.9, B2 = 0.999, EPS = 1e-8;

test("adam and group-adam (no regularisers) over 25,000 steps = textbook Adam in float64 (rel. 1e-5), both backends", () => {
  for (const name of ["adam", "group-adam"] as const) {
    for (const backend of ["wasm", "ts"] as const) {
      const r = new Rng(7), x0 = Float32Array.from({ length: D }, () => r.uniform(-1, 1));
      const p = createOptimizer(name, { lr: LR }, { backend }).dense(x0, { rows: 1, rowLength: D });
      const x = Array.from(x0, Number), m = new Array(D).fill(0), v = new Array(D).fill(0);
      const g = new Float32Array(D);
      for (let t = 1; t <= STEPS; t++) {
        for (let j = 0; j < D; j++) g[j] = r.uniform(-1, 1) + (j === 0 ? 0.1 : 0);
        p.step(g);
        for (let j = 0; j < D; j++) {
          m[j] = B1 * m[j] + (1 - B1) * g[j];
          v[j] = B2 * v[j] + (1 - B2) * g[j] * g[j];
          x[j] -= LR * (m[j] / (1 - B1 ** t)) / (Math.sqrt(v[j] / (1 - B2 ** t)) + EPS);
        }
      }
      const got = Array.from(p.weights(), Number);
      const disp = got.map((xi, j) => xi - x0[j]), want = x.map((xi, j) => xi - x0[j]);
      assert.ok(relErr(got, x) < 1e-5, `${name} ${backend}: weights rel. error ${relErr(got, x)}`);
      assert.ok(relErr(disp, want) < 1e-4, `${name} ${backend}: displacement rel. error ${relErr(disp, want)}`);
    }
  }
});

test("a lazy row idle from step 10 to step 25,000: both backends agree bit for bit", () => {
  const run = (backend: "wasm" | "ts"): Float32Array => {
    const table = createOptimizer("group-adam", { lr: LR, l21: 1e-4 }, { backend }).table({ rowLength: D, seed: 1 });
    const r = new Rng(3);
    table.gather([42n]);
    let before: Float32Array | undefined;
    for (let t = 1; t <= STEPS; t++) {
      const g = Float32Array.from({ length: D }, () => r.uniform(-1, 1));
      if (t === STEPS) before = table.get(42n)!;
      table.step(t <= 10 || t === STEPS ? [42n] : [7n], g);
    }
    assert.equal(table.stepCount, STEPS);
    const after = table.get(42n)!;
    assert.ok(after.every(Number.isFinite) && after.some((w, j) => w !== before![j]), `${backend}: the late step moved the row`);
    return after;
  };
  assert.deepEqual(run("wasm"), run("ts"));
});

test("saturation(beta) is the first step whose float32 bias correction is exactly 1.0 (checked by a scan)", () => {
  for (const beta of [0, 0.5, 0.9, 0.99, 0.999]) {
    let tau = 1;
    while (Math.fround(1 / (1 - beta ** tau)) !== 1) tau++;
    assert.equal(saturation(beta), tau, `beta ${beta}`);
  }
  assert.equal(saturation(1), Infinity);
});

test("the bias-correction table stops growing once saturated: a step count of 10^9 costs no more memory", () => {
  const arena = new Arena("ts");
  const call = new StepCall(arena, "adam", resolveHyperparams("adam", {}), 4, true);
  call.prepare(100, 1e-3);
  const small = arena.heap.byteLength;
  call.prepare(1e9, 1e-3);
  assert.ok(arena.heap.byteLength <= Math.max(small, 2 ** 20), `heap ${arena.heap.byteLength} bytes at step 1e9`);
});
