// Bad input gets a clear error that names the problem, and leaves the weights untouched.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createOptimizer, type OptimizerName } from "../../src/index.js";
import { sameBits } from "../helpers/rng.js";

test("unknown optimizer names, unknown and invalid hyperparameters are refused by name", () => {
  assert.throws(() => createOptimizer("adamw" as OptimizerName), /unknown optimizer "adamw".*group-adam/);
  assert.throws(() => createOptimizer("adam", { lr: -1 }), /lr = -1 is invalid/);
  assert.throws(() => createOptimizer("adam", { lr: NaN }), /lr = NaN is invalid/);
  assert.throws(() => createOptimizer("adam", { beta1: 1 }), /beta1 = 1 is invalid/);
  assert.throws(() => createOptimizer("group-adam", { l21: -0.1 }), /l21 = -0.1 is invalid/);
  assert.throws(() => createOptimizer("group-adam", { l1: Infinity }), /l1 = Infinity is invalid/);
  assert.throws(() => createOptimizer("group-adam", { l12: 1 } as never), /unknown hyperparameter "l12"/);
  assert.throws(() => createOptimizer("adam", { l21: 1e-3 }), /use "group-adam"/);
  assert.throws(() => createOptimizer("ftrl", { l21: 1e-3 }), /l21 must be 0/);
  assert.throws(() => createOptimizer("group-adam", { epsilon: 0 }), /epsilon must be > 0 unless l2 > 0/);
  assert.doesNotThrow(() => createOptimizer("group-adam", { epsilon: 0, l2: 1e-5 }));
  assert.throws(() => createOptimizer("group-adam", { l21Norm: "tilde" as never }), /l21Norm = "tilde" is invalid/);
  assert.throws(() => createOptimizer("group-adam", { rowStep: "local" as never }), /rowStep = "local" is invalid/);
  assert.throws(() => createOptimizer("adam", {}, { backend: "gpu" as never }), /unknown backend "gpu"/);
});

test("dense: wrong gradient length, NaN or Inf, missing Hessian: clear error, weights untouched", () => {
  const p = createOptimizer("group-adam", { l21: 1e-3 }).dense(new Float32Array([1, 2, 3, 4, 5, 6]), { rows: 2, rowLength: 3 });
  p.step(new Float32Array(6).fill(0.1));
  const before = p.save();
  assert.throws(() => p.step(new Float32Array(5)), /gradient has 5 values, expected 6/);
  assert.throws(() => p.step(new Float32Array([0, 0, 0, 0, NaN, 0])), /gradient is not finite at row 1, column 1/);
  assert.throws(() => p.step(new Float32Array([Infinity, 0, 0, 0, 0, 0])), /not finite at row 0, column 0/);
  assert.throws(() => p.step(new Float32Array(6), { lr: 0 }), /lr = 0 must be/);
  assert.throws(() => p.step(new Float32Array(6), { hessian: new Float32Array(6) }), /only used by adahessian/);
  assert.throws(() => p.step(null as never), /must be a Float32Array/);
  assert.deepEqual(p.save(), before);
  const h = createOptimizer("adahessian").dense(new Float32Array(4), { rows: 2, rowLength: 2 });
  assert.throws(() => h.step(new Float32Array(4)), /needs opts.hessian/);
  assert.throws(() => h.step(new Float32Array(4), { hessian: new Float32Array([0, NaN, 0, 0]) }), /hessian is not finite at row 0, column 1/);
  assert.equal(h.stepCount, 0);
});

test("dense: bad shapes and initial values are refused", () => {
  const o = createOptimizer("adam");
  assert.throws(() => o.dense(new Float32Array(6), { rows: 2, rowLength: 4 }), /rows x rowLength = 8 floats, got 6 floats/);
  assert.throws(() => o.dense(new Float32Array(0), { rows: 0, rowLength: 4 }), /rows = 0 must be/);
  assert.throws(() => o.dense(new Float32Array(2000), { rows: 1, rowLength: 2000 }), /rowLength = 2000 must be/);
  assert.throws(() => o.dense(new Float32Array([0, NaN]), { rows: 1, rowLength: 2 }), /initial value at row 0, column 1 is NaN/);
  assert.throws(() => o.dense([1, 2] as never, { rows: 1, rowLength: 2 }), /must be a Float32Array/);
});

test("table: bad ids, gradients and options: clear error naming the position, table untouched", () => {
  const t = createOptimizer("group-adagrad", { l21: 1e-3 }).table({ rowLength: 2, seed: 1 });
  t.step([10, 11], new Float32Array([1, 2, 3, 4]));
  const before = t.save();
  assert.throws(() => t.step([10, 11], new Float32Array(3)), /gradient has 3 values, expected 4/);
  assert.throws(() => t.step([10, 11], new Float32Array([0, 0, NaN, 0])), /not finite at position 1 \(id 11\), column 0/);
  assert.throws(() => t.step([10, -1], new Float32Array(4)), /id -1 must be a non-negative safe integer.*position 1/);
  assert.throws(() => t.step([10, 1.5], new Float32Array(4)), /id 1.5 must be/);
  assert.throws(() => t.step([2 ** 60], new Float32Array(2)), /must be a non-negative safe integer or a bigint/);
  assert.throws(() => t.step([2n ** 64n], new Float32Array(2)), /outside \[0, 2\^64\)/);
  assert.throws(() => t.step("abc" as never, new Float32Array(2)), /ids must be/);
  assert.deepEqual(t.save(), before);
  const o = createOptimizer("adam");
  assert.throws(() => o.table({ rowLength: 0 }), /rowLength = 0 must be/);
  assert.throws(() => o.table({ rowLength: 4, seed: -1 }), /seed = -1 must be/);
  assert.throws(() => o.table({ rowLength: 4, init: { uniform: [1, 0] } }), /init .* is invalid/);
  assert.throws(() => o.table({ rowLength: 4, init: { normal: { std: -1 } } }), /init .* is invalid/);
  assert.throws(() => t.gather([1], new Float32Array(3)), /gather output has 3 floats, expected 2/);
});

test("64-bit ids: bigint, BigUint64Array and numbers address the same rows", () => {
  const t = createOptimizer("adam").table({ rowLength: 2, seed: 1, init: { uniform: [-1, 1] } });
  const big = 2n ** 63n + 12345n;
  const w = t.gather(new BigUint64Array([big, 7n]));
  assert.ok(sameBits(t.get(big)!, w.subarray(0, 2)));
  assert.ok(sameBits(t.get(7)!, t.gather([7])));
  assert.ok(sameBits(t.get(7n)!, t.gather(new Uint32Array([7]))));
  assert.equal(t.size, 2);
  assert.equal(t.has(8), false);
  assert.equal(t.get(8), undefined);
});
