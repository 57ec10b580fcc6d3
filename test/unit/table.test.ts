// The row-sparse table: the id index across many growths, seeded initialisers,
// first-sight order, and the O(1) zero/live row counts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createOptimizer } from "../../src/index.js";
import { rng } from "../helpers/rng.js";

test("the index keeps every id through many growths; rows come in first-sight order", () => {
  const t = createOptimizer("adam").table({ rowLength: 1, seed: 2, init: { uniform: [0, 1] } });
  const r = rng(1);
  const ids = new BigUint64Array(300_000);
  for (let i = 0; i < ids.length; i++) ids[i] = (BigInt(Math.floor(r() * 2 ** 32)) << 32n) | BigInt(i);
  const first = new Float32Array(ids.length);
  for (let i = 0; i < ids.length; i += 10_000) first.set(t.gather(ids.subarray(i, i + 10_000)), i);
  assert.equal(t.size, ids.length);
  assert.deepEqual(t.ids(), ids);
  // Looked up again, each id finds its own row (values were drawn independently per id).
  const again = t.gather(ids);
  assert.deepEqual(again, first);
  assert.equal(t.size, ids.length);
  assert.equal(new Set(first).size > ids.length * 0.9, true);
});

test("initialisers: uniform stays in range, normal has the requested mean and std, seeds differ", () => {
  const n = 20_000, d = 4;
  const ids = Array.from({ length: n }, (_, i) => i);
  const u = createOptimizer("adam").table({ rowLength: d, seed: 1, init: { uniform: [-0.25, 0.5] } }).gather(ids);
  assert.ok(u.every((v) => v >= -0.25 && v < 0.5));
  const mean = (a: Float32Array): number => a.reduce((s, v) => s + v, 0) / a.length;
  assert.ok(Math.abs(mean(u) - 0.125) < 0.01);
  const g = createOptimizer("adam").table({ rowLength: d, seed: 1, init: { normal: { mean: 1, std: 0.1 } } }).gather(ids);
  const m = mean(g), sd = Math.sqrt(g.reduce((s, v) => s + (v - m) ** 2, 0) / g.length);
  assert.ok(Math.abs(m - 1) < 0.003, `mean ${m}`);
  assert.ok(Math.abs(sd - 0.1) < 0.003, `std ${sd}`);
  const other = createOptimizer("adam").table({ rowLength: d, seed: 2, init: { normal: { mean: 1, std: 0.1 } } }).gather(ids);
  assert.notDeepEqual(other, g);
  const z = createOptimizer("adam").table({ rowLength: d, init: "zeros" });
  z.gather([1, 2, 3]);
  assert.equal(z.zeroRows, 3);
  assert.equal(z.liveRows, 0);
});

test("zero and live row counts follow the weights exactly", () => {
  const t = createOptimizer("group-adagrad", { lr: 0.1, l21: 0.05 }).table({ rowLength: 4, seed: 3, init: "zeros" });
  // Small gradients stay under the group threshold: the rows remain exactly zero.
  t.step([1, 2, 3], new Float32Array(12).fill(1e-3));
  assert.equal(t.zeroRows, 3);
  // A large gradient on row 2 brings it to life.
  const g = new Float32Array(12);
  g.fill(5, 4, 8);
  t.step([1, 2, 3], g);
  assert.equal(t.liveRows, 1);
  assert.equal(t.isZero(2), false);
  assert.equal(t.isZero(1), true);
  let counted = 0;
  for (const id of t.ids()) if (t.get(id)!.every((v) => v === 0)) counted++;
  assert.equal(counted, t.zeroRows);
});

test("a zeroed row is +0.0 in every entry, never -0.0", () => {
  const t = createOptimizer("group-adam", { lr: 0.1, l21: 1000 }).table({ rowLength: 5, seed: 1, init: { uniform: [-1, 1] } });
  t.step([1, 2], new Float32Array([-3, 2, -1, 4, -5, 1, 1, 1, 1, 1]));
  for (const id of [1, 2]) assert.ok(t.get(id)!.every((v) => Object.is(v, 0)), `row ${id}`);
  assert.equal(t.zeroRows, 2);
});

test("gather without creating: absent ids read as zeros, the table is unchanged, both backends agree", () => {
  for (const backend of ["wasm", "ts"] as const) {
    const t = createOptimizer("adam", {}, { backend }).table({ rowLength: 3, seed: 1, init: { uniform: [1, 2] } });
    const known = t.gather([5, 6]);
    const before = t.save();
    const w = t.gather([6, 99, 5], undefined, { create: false });
    assert.deepEqual(Array.from(w), [...known.subarray(3, 6), 0, 0, 0, ...known.subarray(0, 3)]);
    assert.equal(t.size, 2);
    assert.deepEqual(t.save(), before);
  }
});

test("gather without creating, many ids at once: each id's own row or zeros, in order, through several pieces of the kernel's dedup", () => {
  // 50k ids (the kernel deduplicates 16,384 at a time): repeats within and across pieces, absent ids, ids of zero rows.
  const r = rng(9), t = createOptimizer("group-adam", { lr: 0.1, l21: 1000 }).table({ rowLength: 5, seed: 3, init: { uniform: [-1, 1] } });
  const known = Array.from({ length: 3000 }, (_, i) => BigInt(i) * 7919n + 11n);
  t.gather(BigUint64Array.from(known));
  t.step([known[0], known[1]], new Float32Array(10).fill(5));
  const ids = BigUint64Array.from({ length: 50_000 }, () => (r() < 0.85 ? known[Math.floor(Math.pow(r(), 3) * known.length)] : BigInt(Math.floor(r() * 2 ** 40)) * 2n + 1n));
  const before = t.save(), w = t.gather(ids, undefined, { create: false });
  for (let i = 0; i < ids.length; i++) {
    const row = t.get(ids[i]) ?? new Float32Array(5);
    assert.deepEqual(w.subarray(5 * i, 5 * i + 5), row, `id ${i}`);
  }
  assert.deepEqual(t.save(), before, "nothing created");
  assert.ok(t.zeroRows === 2 && w.some((v) => v !== 0), "zero rows and live rows among them");
});

test("magnitude pruning keeps exactly the rows of largest norm; the rest are +0.0 and counted", () => {
  for (const backend of ["wasm", "ts"] as const) {
    const t = createOptimizer("adam", {}, { backend }).table({ rowLength: 3, seed: 5, init: { uniform: [-1, 1] } });
    const ids = Array.from({ length: 200 }, (_, i) => i * 7 + 1);
    const w = t.gather(ids);
    const norm = (i: number): number => w[3 * i] ** 2 + w[3 * i + 1] ** 2 + w[3 * i + 2] ** 2;
    const ranked = ids.map((_, i) => i).sort((a, b) => norm(b) - norm(a) || a - b);
    const kept = new Set(ranked.slice(0, 30).map((i) => ids[i]));
    assert.equal(t.pruneToTopRows(30), 170);
    assert.equal(t.liveRows, 30);
    for (let i = 0; i < ids.length; i++) {
      const row = t.get(ids[i])!;
      if (kept.has(ids[i])) assert.deepEqual(Array.from(row), Array.from(w.subarray(3 * i, 3 * i + 3)));
      else assert.ok(row.every((v) => Object.is(v, 0)) && t.isZero(ids[i]));
    }
    assert.equal(t.pruneToTopRows(30), 0);
    assert.equal(t.pruneToTopRows(0), 30);
    assert.equal(t.zeroRows, 200);
  }
});

test("evictTo removes zero rows first, then the least updated; kept rows keep weights and state exactly", () => {
  for (const backend of ["wasm", "ts"] as const) {
    const make = () => createOptimizer("group-adam", { lr: 0.01 }, { backend }).table({ rowLength: 4, seed: 9 });
    const a = make(), b = make(), r = rng(11);
    const ids = Array.from({ length: 300 }, (_, i) => 1000 + i * 3);
    a.gather(ids);
    b.gather(ids);
    // Step s updates the ids with i % 5 >= s: id i is updated i % 5 + 1 times.
    for (let s = 0; s < 5; s++) {
      const sel = ids.filter((_, i) => i % 5 >= s);
      const g = Float32Array.from({ length: sel.length * 4 }, () => r() - 0.5);
      a.step(sel, g);
      b.step(sel, g);
    }
    a.pruneToTopRows(250);
    b.pruneToTopRows(250);
    const zero = ids.map((id) => a.isZero(id));
    assert.equal(zero.filter(Boolean).length, 50);
    // Expected survivors, computed from the construction: zero rows go first, then fewest updates, then oldest row.
    const order = ids.map((_, i) => i).sort((x, y) => Number(zero[y]) - Number(zero[x]) || (x % 5) - (y % 5) || x - y);
    const gone = new Set(order.slice(0, 150).map((i) => ids[i]));
    assert.deepEqual(a.evictTo(150), { evicted: 150, zeroEvicted: 50 });
    assert.equal(a.size, 150);
    assert.equal(a.zeroRows, 0);
    for (const id of ids) assert.equal(a.has(id), !gone.has(id), `id ${id}`);
    const kept = ids.filter((id) => !gone.has(id));
    assert.deepEqual(Array.from(a.ids()), kept.map(BigInt), "kept rows stay in their order");
    // Continuing on the kept rows equals the table that never evicted, bit for bit (weights and moments kept).
    for (let s = 0; s < 3; s++) {
      const g = Float32Array.from({ length: kept.length * 4 }, () => r() - 0.5);
      a.step(kept, g);
      b.step(kept, g);
    }
    for (const id of kept) assert.deepEqual(Array.from(a.get(id)!), Array.from(b.get(id)!), `id ${id}`);
    // New rows still come in after the kept ones.
    a.gather([7, 8]);
    assert.equal(a.size, 152);
    assert.deepEqual(Array.from(a.ids()).slice(-2), [7n, 8n]);
    assert.deepEqual(a.evictTo(500), { evicted: 0, zeroEvicted: 0 });
    assert.throws(() => a.evictTo(-1), /keep = -1/);
  }
});

test("stepBatch: errors keep their order and leave the batch ready; a sum that overflows from finite gradients is no error", () => {
  for (const backend of ["wasm", "ts"] as const) {
    const t = createOptimizer("adahessian", {}, { backend }).table({ rowLength: 2, seed: 1 });
    t.gatherBatch([5, 6, 5]);
    const bad = new Float32Array([0, 0, 0, 0, 0, NaN]);
    assert.throws(() => t.stepBatch(bad), /gradient is not finite at position 2, column 1/);
    assert.throws(() => t.stepBatch(bad, { hessian: new Float32Array(2) }), /gradient is not finite at position 2/);
    assert.throws(() => t.stepBatch(new Float32Array(6)), /needs opts.hessian/);
    assert.throws(() => t.stepBatch(new Float32Array(6), { hessian: new Float32Array([0, 0, Infinity, 0, 0, 0]) }), /hessian is not finite at position 1, column 0/);
    assert.throws(() => t.stepBatch(new Float32Array([0, -Infinity, 0, 0, Infinity, 0]), { hessian: new Float32Array(6) }), /gradient is not finite at position 0, column 1/);
    const before = t.save();
    t.stepBatch(new Float32Array(6), { hessian: new Float32Array(6) });
    assert.notDeepEqual(t.save(), before);

    // 3e38 + 3e38 overflows to Infinity: step() lets it through, and so must stepBatch.
    const big = new Float32Array([3e38, 1, 0, 0, 3e38, 1]);
    const a = createOptimizer("adam", {}, { backend }).table({ rowLength: 2, seed: 1 });
    const b = createOptimizer("adam", {}, { backend }).table({ rowLength: 2, seed: 1 });
    a.step([5, 6, 5], big);
    b.gatherBatch([5, 6, 5]);
    b.stepBatch(big);
    assert.deepEqual(b.save(), a.save(), backend);
  }
});

test("step: a non-finite gradient or Hessian creates no row and keeps the order of the errors; an overflowing sum is no error", () => {
  for (const backend of ["wasm", "ts"] as const) {
    const t = createOptimizer("adahessian", {}, { backend }).table({ rowLength: 2, seed: 1 });
    t.step([1], new Float32Array(2), { hessian: new Float32Array(2) });
    const before = t.save();
    const nan = new Float32Array([0, 0, 0, 0, 0, NaN]);
    assert.throws(() => t.step([1, 2, 1], nan, { hessian: new Float32Array(6) }), /gradient is not finite at position 2 \(id 1\), column 1/);
    assert.throws(() => t.step([1, 2, 3], nan), /gradient is not finite at position 2 \(id 3\)/);
    assert.throws(() => t.step([1, -2, 3], nan, { hessian: new Float32Array(6) }), /gradient is not finite at position 2/);
    assert.throws(() => t.step([1, -2, 3], new Float32Array(6), { hessian: new Float32Array([0, 0, Infinity, 0, 0, 0]) }), /hessian is not finite at position 1 \(id -2\), column 0/);
    assert.throws(() => t.step([1, -2, 3], new Float32Array(6), { hessian: new Float32Array(6) }), /id -2 must be a non-negative safe integer/);
    assert.throws(() => t.step([4, 5, 6], new Float32Array(6), { hessian: new Float32Array([0, 0, 0, NaN, 0, 0]) }), /hessian is not finite at position 1 \(id 5\), column 1/);
    assert.equal(t.size, 1, `${backend}: no row created by a failed step`);
    assert.deepEqual(t.save(), before);

    const big = new Float32Array([3e38, 1, 3e38, 1]);
    const a = createOptimizer("adam", {}, { backend }).table({ rowLength: 2, seed: 1 });
    a.step([7, 7], big);
    assert.equal(a.size, 1);
    assert.equal(a.stepCount, 1);
  }
});
