// Lazy sparse updates: a table whose every row is present every step equals
// the dense parameter bit for bit; absent rows are frozen; duplicate ids are
// summed; lazy group-adam without regularisers equals lazy Adam with the
// global (or per-row) step in the bias correction.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createOptimizer, OPTIMIZER_NAMES, type Hyperparams } from "../../src/index.js";
import { randomArray, rng, sameBits } from "../helpers/rng.js";

test("lazy = dense: every row present every step (shuffled) gives identical float32 weights", () => {
  const rows = 12, d = 8;
  for (const name of OPTIMIZER_NAMES) {
    const h: Hyperparams = name.startsWith("group-") ? { lr: 0.03, l1: 1e-3, l21: 4e-3, l2: 1e-4 } : name === "ftrl" ? { l1: 1e-3, l2: 1e-3 } : {};
    const opt = createOptimizer(name, h);
    const table = opt.table({ rowLength: d, seed: 3, init: { uniform: [-0.2, 0.2] } });
    const ids = Array.from({ length: rows }, (_, i) => i * 101 + 5);
    const init = table.gather(ids);
    const dense = opt.dense(init, { rows, rowLength: d });
    const r = rng(11);
    for (let t = 0; t < 60; t++) {
      const g = randomArray(r, rows * d);
      const hs = randomArray(r, rows * d);
      const perm = ids.map((_, i) => i).sort(() => r() - 0.5);
      const pg = new Float32Array(rows * d), ph = new Float32Array(rows * d);
      perm.forEach((src, k) => { pg.set(g.subarray(src * d, src * d + d), k * d); ph.set(hs.subarray(src * d, src * d + d), k * d); });
      const useH = name.endsWith("adahessian");
      dense.step(g, useH ? { hessian: hs } : {});
      table.step(perm.map((i) => ids[i]), pg, useH ? { hessian: ph } : {});
    }
    assert.ok(sameBits(dense.weights(), table.gather(ids)), name);
    assert.equal(dense.zeroRows, table.zeroRows, `${name}: zero rows`);
  }
});

test("rows absent from a step keep their weights and state untouched", () => {
  const t = createOptimizer("group-adam", { l21: 1e-3 }).table({ rowLength: 4, seed: 1 });
  t.step([1, 2, 3], randomArray(rng(1), 12));
  const before = t.get(3)!;
  t.step([1, 2], randomArray(rng(2), 8));
  t.step([2], randomArray(rng(3), 4));
  assert.ok(sameBits(before, t.get(3)!));
});

test("duplicate ids in one step have their gradients summed first (in order of appearance)", () => {
  const r = rng(5);
  const g = randomArray(r, 4 * 3);
  const a = createOptimizer("group-adagrad", { l1: 1e-3, l21: 1e-3 }).table({ rowLength: 3, seed: 2 });
  const b = createOptimizer("group-adagrad", { l1: 1e-3, l21: 1e-3 }).table({ rowLength: 3, seed: 2 });
  a.step([7, 9, 7, 7], g);
  const sum = new Float32Array(6);
  for (let j = 0; j < 3; j++) {
    sum[j] = Math.fround(Math.fround(g[j] + g[6 + j]) + g[9 + j]);
    sum[3 + j] = g[3 + j];
  }
  b.step([7, 9], sum);
  assert.ok(sameBits(a.get(7)!, b.get(7)!));
  assert.ok(sameBits(a.get(9)!, b.get(9)!));
  assert.equal(a.stepCount, 1);
});

/** Lazy Adam written independently in float64: rows move only when present. */
function lazyAdamRef(
  init: Map<number, number[]>, steps: { ids: number[]; g: number[][] }[], lr: number, perRow: boolean,
): Map<number, number[]> {
  const b1 = 0.9, b2 = 0.999, eps = 1e-8;
  const x = new Map([...init].map(([k, v]) => [k, v.slice()]));
  const m = new Map<number, number[]>(), v = new Map<number, number[]>(), n = new Map<number, number>();
  steps.forEach((s, k) => {
    const t = k + 1;
    s.ids.forEach((id, i) => {
      const xi = x.get(id)!, d = xi.length;
      const mi = m.get(id) ?? new Array(d).fill(0), vi = v.get(id) ?? new Array(d).fill(0);
      const tau = perRow ? (n.get(id) ?? 0) + 1 : t;
      for (let j = 0; j < d; j++) {
        const gj = s.g[i][j];
        mi[j] = b1 * mi[j] + (1 - b1) * gj;
        vi[j] = b2 * vi[j] + (1 - b2) * gj * gj;
        xi[j] -= (lr * mi[j] / (1 - b1 ** tau)) / (Math.sqrt(vi[j] / (1 - b2 ** tau)) + eps);
      }
      m.set(id, mi); v.set(id, vi); n.set(id, (n.get(id) ?? 0) + 1);
    });
  });
  return x;
}

test("lazy group-adam with zero regularisers equals lazy Adam (global step, and per-row step)", () => {
  for (const rowStep of ["global", "per-row"] as const) {
    const d = 8, lr = 0.01, r = rng(rowStep.length);
    const plain = createOptimizer("adam", { lr, rowStep }).table({ rowLength: d, seed: 4 });
    const group = createOptimizer("group-adam", { lr, rowStep }).table({ rowLength: d, seed: 4 });
    const universe = Array.from({ length: 30 }, (_, i) => i);
    const init = new Map(universe.map((id) => [id, Array.from(plain.gather([id]))]));
    group.gather(universe);
    const steps: { ids: number[]; g: number[][] }[] = [];
    for (let t = 0; t < 300; t++) {
      const ids = universe.filter(() => r() < 0.3);
      const g = ids.map(() => Array.from(randomArray(r, d)));
      steps.push({ ids, g });
      const flat = new Float32Array(g.flat());
      plain.step(ids, flat);
      group.step(ids, flat);
    }
    const ref = lazyAdamRef(init, steps, lr, rowStep === "per-row");
    let num = 0, den = 0, numG = 0;
    for (const id of universe) {
      const want = ref.get(id)!, a = plain.get(id)!, b = group.get(id)!;
      for (let j = 0; j < d; j++) {
        num += (a[j] - want[j]) ** 2;
        numG += (b[j] - want[j]) ** 2;
        den += want[j] ** 2;
      }
    }
    assert.ok(Math.sqrt(num / den) < 1e-5, `${rowStep}: plain lazy adam vs reference ${Math.sqrt(num / den)}`);
    assert.ok(Math.sqrt(numG / den) < 1e-5, `${rowStep}: group lazy adam vs reference ${Math.sqrt(numG / den)}`);
  }
});

test("a row first seen at a late global step takes its whole P_t as P_t - P_{t-1}", () => {
  // group-adam, l = 0: x_{t+1} = x_t - m_t/P_t exactly as Adam at step t, whatever t.
  const lr = 0.1;
  const t = createOptimizer("group-adam", { lr }).table({ rowLength: 1, seed: 1, init: { uniform: [0.5, 0.5] } });
  for (let k = 0; k < 9; k++) t.step([1], [0.3]);
  t.step([2], [0.2]);
  const tau = 10, g = 0.2;
  const m = (1 - 0.9) * g / (1 - 0.9 ** tau), v = (1 - 0.999) * g * g / (1 - 0.999 ** tau);
  const want = 0.5 - lr * m / (Math.sqrt(v) + 1e-8);
  assert.ok(Math.abs(t.get(2)![0] - want) < 1e-6, `${t.get(2)![0]} vs ${want}`);
});

test("gatherBatch + stepBatch equal gather + step bit for bit (both backends), and a stale batch is refused", () => {
  for (const backend of ["wasm", "ts"] as const) {
    const opt = createOptimizer("group-adam", { lr: 0.02, l21: 2e-3 }, { backend });
    const a = opt.table({ rowLength: 5, seed: 3 }), b = opt.table({ rowLength: 5, seed: 3 });
    const r = rng(17);
    for (let t = 0; t < 40; t++) {
      const ids = Array.from({ length: 64 }, () => Math.floor(r() * r() * 200));
      const ga = a.gather(ids), gb = b.gatherBatch(ids);
      assert.ok(sameBits(ga, gb), `${backend} step ${t}: gathered weights`);
      const g = randomArray(r, ids.length * 5);
      a.step(ids, g);
      b.stepBatch(g);
    }
    assert.deepEqual(a.save(), b.save(), backend);
    b.gatherBatch([1, 2]);
    assert.throws(() => b.stepBatch(new Float32Array(3)), /gradient has 3 values, expected 10/);
    b.stepBatch(new Float32Array(10));
    assert.throws(() => b.stepBatch(new Float32Array(10)), /needs a gatherBatch just before it/);
    b.gatherBatch([1, 2]);
    b.gather([3]);
    assert.throws(() => b.stepBatch(new Float32Array(10)), /needs a gatherBatch just before it/);
  }
});
