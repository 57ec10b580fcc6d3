// Tables trained by several threads at once (src/optim/table-share.ts over
// kernels/assembly/concurrent.ts). Eight worker threads on this machine's two
// cores (oversubscribed on purpose: threads are preempted while they hold a
// row's lock or a claimed index slot) hammer a few hot rows and insert
// overlapping ids. Checked against brute force: every id gets exactly one
// row with its seeded initial weights, the row and zero-row counts are
// exact, every row's update count is the number of batches that held it,
// and every row's weights are the closed form of Algorithm 1 from the
// state stored beside them (a row torn by two updates would not be).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createOptimizer } from "../../src/index.js";
import { H_ALPHA, H_COUNT, H_FLAGS, HEADER_BYTES, ROW_LOCK } from "../../src/kernels/layout.js";
import { softThreshold, shrinkFactor, proxWeight } from "../../src/math/prox.js";
import type { RowInit, SparseTable } from "../../src/optim/table.js";
import { runThreads } from "../helpers/table-thread.js";
import { rng } from "../helpers/rng.js";

const WORKERS = 8;

/** The record address of an id's row. */
function recordOf(t: SparseTable, id: bigint): number {
  const rec = t.mutate().lookup(Number(id & 0xffffffffn), Number(id >> 32n));
  assert.ok(rec !== 0, `id ${id} has no row`);
  return rec;
}

test("eight threads inserting overlapping ids make exactly the brute-force rows, with their seeded weights and exact counts", async () => {
  const r = rng(11);
  const plans: { ids: BigUint64Array[]; grads: Float32Array[] }[] = [];
  const all = new Set<bigint>();
  for (let w = 0; w < WORKERS; w++) {
    const ids: BigUint64Array[] = [], grads: Float32Array[] = [];
    for (let s = 0; s < 40; s++) {
      // Ids shared by all threads (small numbers), and each thread's own; with repeats in a batch.
      const b = new BigUint64Array(256);
      for (let i = 0; i < b.length; i++) b[i] = r() < 0.5 ? BigInt(Math.floor(r() * 3000)) : (BigInt(w + 1) << 40n) + BigInt(Math.floor(r() * 4000));
      b.forEach((id) => all.add(id));
      ids.push(b);
      grads.push(new Float32Array(0));
    }
    plans.push({ ids, grads });
  }
  for (const init of [{ normal: { std: 0.01 } }, "zeros"] as RowInit[]) {
    const t = createOptimizer("group-adam", { lr: 0.01 }).table({ rowLength: 6, seed: 5, init });
    // Little room: the index runs near its 0.75 load, so probes collide and claims race.
    const gathered = await runThreads(t, plans, 256, all.size + 256);
    assert.equal(t.size, all.size, "one row per distinct id");
    const ids = t.ids();
    assert.equal(new Set(ids).size, ids.length, "no id has two rows");
    assert.deepEqual(new Set(ids), all, "the rows are exactly the ids sent");
    // Each row's weights are its seeded initial ones (a single-thread table computes the same).
    const ref = createOptimizer("group-adam", { lr: 0.01 }).table({ rowLength: 6, seed: 5, init });
    const sorted = [...all].sort((a, b) => (a < b ? -1 : 1));
    const want = ref.gather(BigUint64Array.from(sorted));
    const index = new Map(sorted.map((id, i) => [id, i]));
    sorted.forEach((id, i) => assert.deepEqual(t.get(id), want.subarray(i * 6, i * 6 + 6), `weights of id ${id}`));
    // What each thread read is those weights too.
    plans.forEach((p, w) => p.ids.forEach((b, s) => b.forEach((id, i) => {
      const j = index.get(id)!;
      assert.deepEqual(gathered[w][s].subarray(i * 6, i * 6 + 6), want.subarray(j * 6, j * 6 + 6), `thread ${w} batch ${s} position ${i}: id ${id} (first position of it in the batch ${p.ids[s].indexOf(id)})`);
    })));
    let zeros = 0;
    for (const id of ids) zeros += t.isZero(id) ? 1 : 0;
    assert.equal(t.zeroRows, zeros, "zero-row count");
    assert.equal(zeros, init === "zeros" ? all.size : 0);
  }
});

test("eight threads inserting the same new ids in the same order race for every slot and still make one row each", async () => {
  // Every thread's batches are the same: each id is claimed by one thread while the others wait for it.
  const steps = 120, n = 512;
  const ids = Array.from({ length: steps }, (_, s) => BigUint64Array.from({ length: n }, (_, i) => BigInt(s * n + i) * 0x9e3779b97f4a7c15n & 0xffffffffffffffffn));
  const plans = Array.from({ length: WORKERS }, () => ({ ids, grads: ids.map(() => new Float32Array(0)) }));
  const t = createOptimizer("group-adam", { lr: 0.01 }).table({ rowLength: 4, seed: 2, init: "zeros" });
  await runThreads(t, plans, n, steps * n + n);
  assert.equal(t.size, steps * n, "one row per distinct id");
  assert.equal(new Set(t.ids()).size, steps * n);
  assert.equal(t.zeroRows, steps * n, "zero-row count");
});

test("eight threads stepping a few hot rows lose no update and tear no row (group-adagrad, Algorithm 1's closed form)", async () => {
  const r = rng(3);
  const d = 6, l1 = 0.002, l21 = 0.004, l2 = 0.001, steps = 400;
  const hot = [1n, 2n];
  const updates = new Map<bigint, number>();
  const sumSq = new Map<bigint, Float64Array>();
  const plans = Array.from({ length: WORKERS }, (_, w) => {
    const ids: BigUint64Array[] = [], grads: Float32Array[] = [];
    for (let s = 0; s < steps; s++) {
      const n = 24, b = new BigUint64Array(n), g = new Float32Array(n * d);
      for (let i = 0; i < n; i++) b[i] = i < 12 ? hot[Math.floor(r() * hot.length)] : BigInt(100 + w * 10 + Math.floor(r() * 10));
      for (let i = 0; i < g.length; i++) g[i] = (r() * 2 - 1) * (r() < 0.1 ? 5 : 0.5);
      // The rows of this batch and their summed gradients (duplicates summed first, as the table does).
      const sums = new Map<bigint, Float64Array>();
      b.forEach((id, i) => {
        const acc = sums.get(id) ?? new Float64Array(d);
        for (let j = 0; j < d; j++) acc[j] += g[i * d + j];
        sums.set(id, acc);
      });
      for (const [id, acc] of sums) {
        updates.set(id, (updates.get(id) ?? 0) + 1);
        const sq = sumSq.get(id) ?? new Float64Array(d);
        for (let j = 0; j < d; j++) sq[j] += acc[j] * acc[j];
        sumSq.set(id, sq);
      }
      ids.push(b);
      grads.push(g);
    }
    return { ids, grads };
  });
  const t = createOptimizer("group-adagrad", { lr: 0.1, l1, l21, l2, initialAccumulator: 0.1 }).table({ rowLength: d, seed: 1 });
  await runThreads(t, plans, 24, 1000);
  assert.equal(t.stepCount, WORKERS * steps, "one global step per batch");
  const heap = t.arena.heap, f = Math.fround;
  let zeros = 0;
  for (const [id, n] of updates) {
    const rec = recordOf(t, id);
    assert.equal(heap.u32[(rec + H_COUNT) >>> 2], n, `updates of row ${id}`);
    const flags = heap.u32[(rec + H_FLAGS) >>> 2];
    assert.equal(flags & ROW_LOCK, 0, `row ${id} is left unlocked`);
    // Record: [header | x | z | V]. V is epsilon + initialAccumulator + the sum of every update's g^2: none lost.
    const x = (rec + HEADER_BYTES) >>> 2, z = x + d, v = z + d;
    const alpha = heap.f32[(rec + H_ALPHA) >>> 2];
    const s = new Float32Array(d), den = new Float32Array(d);
    let sq = 0;
    for (let j = 0; j < d; j++) {
      const want = 1e-8 + 0.1 + sumSq.get(id)![j];
      assert.ok(Math.abs(heap.f32[v + j] - want) <= 1e-4 * want, `row ${id} V[${j}] = ${heap.f32[v + j]}, the updates sent give ${want}`);
      const P = f(f(Math.sqrt(heap.f32[v + j])) / alpha);
      s[j] = softThreshold(heap.f32[z + j], l1);
      den[j] = f(P + f(2 * l2));
      sq += s[j] * s[j];
    }
    // The weights are the closed form of the stored z and V (raw norm, the default).
    const k = shrinkFactor(sq, f(Math.sqrt(d) * l21));
    for (let j = 0; j < d; j++) {
      const want = proxWeight(s[j], k, den[j]), got = heap.f32[x + j];
      assert.ok(Math.abs(got - want) <= 1e-5 * Math.max(1e-3, Math.abs(want)), `row ${id} x[${j}] = ${got}, its state gives ${want}`);
    }
    zeros += flags & 1;
  }
  assert.equal(t.zeroRows, zeros, "zero-row count");
});

test("one thread through the shared kernels gives the single-thread table's rows bit for bit", async () => {
  const r = rng(9), d = 5, steps = 30;
  const ids: BigUint64Array[] = [], grads: Float32Array[] = [];
  for (let s = 0; s < steps; s++) {
    ids.push(BigUint64Array.from({ length: 64 }, () => BigInt(Math.floor(r() * 200))));
    grads.push(Float32Array.from({ length: 64 * d }, () => r() * 2 - 1));
  }
  for (const name of ["group-adam", "adam", "group-adagrad"] as const) {
    const make = (): SparseTable => createOptimizer(name, name.startsWith("group") ? { lr: 0.05, l1: 1e-3, l21: 2e-3 } : { lr: 0.05 }).table({ rowLength: d, seed: 4 });
    const shared = make(), plain = make();
    await runThreads(shared, [{ ids, grads }], 64, 64 * steps);
    for (let s = 0; s < steps; s++) {
      plain.gatherBatch(ids[s]);
      plain.stepBatch(grads[s]);
    }
    assert.equal(shared.stepCount, plain.stepCount);
    assert.deepEqual(shared.ids(), plain.ids());
    assert.deepEqual(shared.mutate().records(0, shared.size), plain.mutate().records(0, plain.size), `${name}: records`);
    assert.equal(shared.zeroRows, plain.zeroRows);
  }
});
