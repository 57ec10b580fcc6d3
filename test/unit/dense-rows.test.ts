// Dense parameters stepped by rows (DenseParam.step with a row range, the
// data-parallel trainer's split of the dense step): copies of one parameter
// whose row ranges step in turn, put together with copyRows, hold the state
// of the parameter stepped whole, bit for bit (weights, moments, zero rows,
// step count), for plain and group rules; denseSlices gives every row of
// every parameter to exactly one worker, in balanced ranges.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createOptimizer } from "../../src/index.js";
import { DenseParam } from "../../src/optim/dense.js";
import { denseSlices } from "../../src/train/parallel-protocol.js";
import { decodeEnvelope } from "../../src/io/envelope.js";
import { rng, randomArray } from "../helpers/rng.js";

const bytes = (p: DenseParam): string => Buffer.from(p.save()).toString("hex");

test("copies stepping their own row ranges, put together with copyRows, equal the parameter stepped whole (adam, group-adam, group-adagrad, momentum)", () => {
  for (const name of ["adam", "group-adam", "group-adagrad", "momentum"] as const) {
    const r = rng(9), rows = 37, d = 8, init = randomArray(r, rows * d);
    // A strong group lasso zeroes some rows: the zero-row counts are checked too.
    const hyper = name.startsWith("group-") ? { lr: 0.05, l21: 0.02, l1: 0.001 } : { lr: 0.05 };
    const whole = createOptimizer(name, hyper).dense(init, { rows, rowLength: d });
    const cuts = [0, 5, 5, 20, 37];
    const parts = cuts.slice(1).map(() => DenseParam.load(whole.save()));
    for (let s = 0; s < 30; s++) {
      // Rows 0-11 take small gradients: the group lasso holds them at zero.
      const g = Array.from(randomArray(r, rows * d), (v, i) => v * (i < 12 * d ? 0.001 : 3));
      whole.step(g);
      parts.forEach((p, k) => p.step(k % 2 ? Float32Array.from(g) : g, {}, { start: cuts[k], end: cuts[k + 1] }));
    }
    const joined = DenseParam.load(parts[0].save());
    parts.forEach((p, k) => joined.copyRows(p, cuts[k], cuts[k + 1]));
    assert.equal(bytes(joined), bytes(whole), `${name}: state`);
    assert.equal(joined.zeroRows, whole.zeroRows, `${name}: zero rows`);
    assert.equal(joined.stepCount, 30);
    if (name.startsWith("group-")) assert.ok(whole.zeroRows > 0 && whole.zeroRows < rows, `${name}: ${whole.zeroRows} zero rows`);
  }
});

test("a row range is checked; the gradient holds the whole parameter or the rows stepped only, with the same step", () => {
  const p = createOptimizer("adam", { lr: 0.1 }).dense(new Float32Array(12), { rows: 3, rowLength: 4 });
  assert.throws(() => p.step(new Float32Array(12), {}, { start: 2, end: 4 }), /rows \[2, 4\) are not within \[0, 3\)/);
  assert.throws(() => p.step(new Float32Array(5), {}, { start: 1, end: 2 }), /gradient has 5 values, expected 12 \(every row\) or 4 \(the rows stepped\)/);
  const g = new Float32Array(12);
  g[9] = NaN;
  assert.throws(() => p.step(g, {}, { start: 2, end: 3 }), /not finite at row 2, column 1/);
  assert.throws(() => p.step(g.subarray(8, 12), {}, { start: 2, end: 3 }), /not finite at row 2, column 1/, "the rows' part: rows named as in the parameter");
  p.step(g, {}, { start: 0, end: 2 });
  assert.equal(p.stepCount, 1, "a NaN outside the range is not read");
  // Rows 1..3 of a gradient, whole or as the rows' floats only: the same bits.
  const whole = createOptimizer("group-adam", { lr: 0.1, l21: 0.01 }).dense(new Float32Array(12).fill(0.5), { rows: 3, rowLength: 4 });
  const part = DenseParam.load(whole.save());
  for (let t = 0; t < 5; t++) {
    const grad = Float32Array.from({ length: 12 }, (_, i) => Math.sin(i * 7 + t));
    whole.step(grad, {}, { start: 1, end: 3 });
    part.step(grad.slice(4, 12), {}, { start: 1, end: 3 });
  }
  assert.deepEqual(part.save(), whole.save());
  // A view of rows: those rows' weights, live; a range outside the rows is refused.
  assert.deepEqual(whole.view({ start: 1, end: 3 }), whole.view().subarray(4, 12));
  assert.equal(whole.view({ start: 2, end: 2 }).length, 0);
  assert.throws(() => whole.view({ start: 2, end: 4 }), /rows \[2, 4\) are not within \[0, 3\)/);
});

test("denseSlices: every row of every parameter to one worker, one range each, the floats balanced within a row", () => {
  const r = rng(3);
  for (let trial = 0; trial < 200; trial++) {
    const shapes = Array.from({ length: 1 + Math.floor(r() * 10) }, () => ({ rows: 1 + Math.floor(r() * 300), rowLength: 1 + Math.floor(r() * 70) }));
    const N = 1 + Math.floor(r() * 16), s = denseSlices(shapes, N);
    const P = shapes.reduce((a, x) => a + x.rows * x.rowLength, 0), biggest = Math.max(...shapes.map((x) => x.rowLength));
    assert.equal(s.length, N);
    shapes.forEach((x, i) => {
      const owners = new Int32Array(x.rows).fill(-1);
      for (let w = 0; w < N; w++) {
        const { start, end } = s[w][i];
        assert.ok(0 <= start && start <= end && end <= x.rows);
        for (let k = start; k < end; k++) {
          assert.equal(owners[k], -1, `trial ${trial}: row ${k} of parameter ${i} owned twice`);
          owners[k] = w;
        }
      }
      assert.ok(owners.every((o) => o >= 0), `trial ${trial}: parameter ${i} has a row without a worker`);
    });
    for (let w = 0; w < N; w++) {
      const floats = s[w].reduce((a, x, i) => a + (x.end - x.start) * shapes[i].rowLength, 0);
      assert.ok(Math.abs(floats - P / N) <= biggest + 1, `trial ${trial}: worker ${w} steps ${floats} floats of ${P} (${N} workers)`);
    }
  }
});

test("setStepHyper: steps as a parameter created with those hyperparameters, bit for bit, while save and hyper keep its own; undefined goes back", () => {
  for (const [name, h] of [["adam", { beta1: 0.6 }], ["group-adam", { beta1: 0.2 }], ["momentum", { momentum: 0.5 }]] as const) {
    const r = rng(4), rows = 9, d = 8, init = randomArray(r, rows * d);
    const base = { lr: 0.05, ...(name === "group-adam" ? { l21: 0.01 } : {}) };
    const own = createOptimizer(name, base).dense(init, { rows, rowLength: d });
    const other = createOptimizer(name, { ...base, ...h }).dense(init, { rows, rowLength: d });
    own.setStepHyper(h);
    const grads = Array.from({ length: 20 }, () => randomArray(r, rows * d));
    for (const g of grads.slice(0, 10)) { own.step(g); other.step(g); }
    assert.deepEqual(own.view(), other.view(), `${name}: the other hyperparameters' trajectory`);
    assert.deepEqual(own.hyper, createOptimizer(name, base).hyper, `${name}: its own hyperparameters`);
    assert.deepEqual(decodeEnvelope(own.save(), "saved").header.hyper, own.hyper, `${name}: save keeps its own`);
    // Back to its own: the same steps as a copy of it loaded with its own.
    own.setStepHyper(undefined);
    const copy = DenseParam.load(own.save());
    for (const g of grads.slice(10)) { own.step(g); copy.step(g); }
    assert.equal(bytes(own), bytes(copy), `${name}: its own hyperparameters again`);
    assert.notDeepEqual(own.view(), other.view());
    assert.throws(() => own.setStepHyper({ beta1: 2 }), /beta1/);
  }
});
