// One table step a round over several threads' shares of the round's batch
// (kernels/assembly/round-merge.ts, SharedTableView.holdStep / stepOwned,
// used by --dense-updates split). The kernels against a brute-force grouping
// and sum; then four threads on two cores training merged rounds against one
// table stepping each round's whole batch: every row's record (weights,
// optimizer state, update count) is the same, byte for byte.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createOptimizer } from "../../src/index.js";
import { sharedKernelExports } from "../../src/kernels/wasm.js";
import { shareTable } from "../../src/optim/table-share.js";
import type { SparseTable } from "../../src/optim/table.js";
import { runThreads } from "../helpers/table-thread.js";
import { rng } from "../helpers/rng.js";

/** A gradient value whose sums stay exact in float32 (multiples of 1/16 up to 1). */
const dyadic = (r: () => number): number => (Math.floor(r() * 33) - 16) / 16;

test("bucketByOwner groups a thread's rows by owner; mergeOwned adds up each owner's rows over the threads in thread order, cap rows at a time", () => {
  const t = createOptimizer("group-adam").table({ rowLength: 4 });
  shareTable(t, 1, 64, 64);
  const heap = t.arena.heap, k = sharedKernelExports(heap.memory);
  const r = rng(7);
  for (const d of [6, 8]) {
    const W = 5, pool = Array.from({ length: 300 }, (_, i) => 65536 + i * 96);
    // Each thread's distinct records (a third of them in every thread's list: rows met in several shares).
    const threads = Array.from({ length: W }, () => {
      const recs = [...new Set(Array.from({ length: 120 }, () => pool[r() < 0.3 ? Math.floor(r() * 20) : Math.floor(r() * pool.length)]))];
      const g = Float32Array.from({ length: recs.length * d }, () => dyadic(r)), h = Float32Array.from({ length: recs.length * d }, () => dyadic(r));
      const a = { recs: heap.alloc(recs.length * 4), g: heap.alloc(g.length * 4), h: heap.alloc(h.length * 4), order: heap.alloc(recs.length * 4), offsets: heap.alloc((W + 1) * 4) };
      heap.u32.set(recs, a.recs >>> 2);
      heap.f32.set(g, a.g >>> 2);
      heap.f32.set(h, a.h >>> 2);
      return { recs, g, h, a };
    });
    const lists = heap.alloc(W * 5 * 4);
    threads.forEach(({ a }, w) => heap.u32.set([a.recs, a.g, a.h, a.order, a.offsets], (lists >>> 2) + w * 5));
    for (const { recs, a } of threads) {
      k.bucketByOwner(a.recs, recs.length, W, a.order, a.offsets);
      const offsets = [...heap.u32.subarray(a.offsets >>> 2, (a.offsets >>> 2) + W + 1)], order = [...heap.u32.subarray(a.order >>> 2, (a.order >>> 2) + recs.length)];
      // Brute force: positions of each owner's records, in order.
      const want: number[] = [], starts: number[] = [];
      for (let o = 0; o < W; o++) {
        starts.push(want.length);
        recs.forEach((rec, i) => { if (k.rowOwner(rec, W) === o) want.push(i); });
      }
      assert.deepEqual(order, want);
      assert.deepEqual(offsets, [...starts, recs.length]);
    }
    // Owners are spread: none holds more than twice its share.
    const all = new Set(threads.flatMap((x) => x.recs));
    for (let o = 0; o < W; o++) assert.ok([...all].filter((rec) => k.rowOwner(rec, W) === o).length < (2 * all.size) / W);
    const cap = 256, out = { recs: heap.alloc(cap * 4), g: heap.alloc(cap * d * 4), h: heap.alloc(cap * d * 4), tab: heap.alloc(cap * 2 * 4), cursor: heap.alloc(8) };
    for (const c of [cap, 8]) {
      for (let o = 0; o < W; o++) {
        // Brute force: the owner's records in order of first appearance over the threads, their sums in thread order.
        const sums = new Map<number, { g: number[]; h: number[] }>();
        for (const x of threads) x.recs.forEach((rec, i) => {
          if (k.rowOwner(rec, W) !== o) return;
          const s = sums.get(rec);
          const g = [...x.g.subarray(i * d, i * d + d)], h = [...x.h.subarray(i * d, i * d + d)];
          if (!s) sums.set(rec, { g, h });
          else for (let j = 0; j < d; j++) { s.g[j] = Math.fround(s.g[j] + g[j]); s.h[j] = Math.fround(s.h[j] + h[j]); }
        });
        heap.u32.fill(0, out.cursor >>> 2, (out.cursor >>> 2) + 2);
        const got = new Map<number, { g: number[]; h: number[] }>();
        const calls: number[] = [];
        do {
          const n = k.mergeOwned(lists, W, o, d, c, out.cursor, out.recs, out.g, out.h, out.tab);
          calls.push(n);
          assert.ok(n <= c);
          assert.ok(heap.u32.subarray(out.tab >>> 2, (out.tab >>> 2) + 2 * c).every((e) => e === 0), "the table is left zero (dedupIds shares it)");
          const recs = [...heap.u32.subarray(out.recs >>> 2, (out.recs >>> 2) + n)];
          assert.equal(new Set(recs).size, n, "a call's rows are distinct");
          recs.forEach((rec, i) => {
            const g = [...heap.f32.subarray((out.g >>> 2) + i * d, (out.g >>> 2) + i * d + d)], h = [...heap.f32.subarray((out.h >>> 2) + i * d, (out.h >>> 2) + i * d + d)];
            const s = got.get(rec);
            if (!s) got.set(rec, { g, h });
            else for (let j = 0; j < d; j++) { s.g[j] += g[j]; s.h[j] += h[j]; }
          });
          if (c === cap) assert.deepEqual(recs, [...sums.keys()], "first appearance order");
        } while (heap.u32[out.cursor >>> 2] < W);
        assert.deepEqual(got, sums, `d ${d}, cap ${c}, owner ${o}`);
        // A call stops when it is full and meets another row: every call but the last wrote cap rows.
        assert.ok(calls.slice(0, -1).every((n) => n === c) && calls.length >= Math.ceil(sums.size / c), `calls ${calls}`);
        if (c === cap) assert.equal(calls.length, 1);
      }
    }
  }
});

/** A row's whole record (header, weights, optimizer state). */
function record(t: SparseTable, id: bigint): Uint8Array {
  const rec = t.mutate().lookup(Number(id & 0xffffffffn), Number(id >> 32n));
  assert.ok(rec !== 0, `id ${id} has no row`);
  return t.arena.heap.u8.slice(rec, rec + t.recordBytes);
}

test("four threads on merged rounds give one table stepping each round's whole batch, record for record (group-adam, group-adagrad)", async () => {
  const r = rng(21);
  const W = 4, rounds = 40, n = 96, d = 8;
  for (const [optimizer, hyper] of [["group-adam", { lr: 0.05, l1: 0.05, l21: 0.3, l2: 0.001 }], ["group-adagrad", { lr: 0.1, l21: 0.3 }]] as const) {
    // Hot ids in every thread's share, and each thread's own; repeats within a share.
    const plans = Array.from({ length: W }, (_, w) => ({ ids: [] as BigUint64Array[], grads: [] as Float32Array[], w }));
    for (let s = 0; s < rounds; s++) {
      for (const p of plans) {
        // Hot ids take gradients up to 1, a thread's own up to 1/16 (most of them end zero).
        const ids = BigUint64Array.from({ length: n }, () => (r() < 0.4 ? BigInt(Math.floor(r() * 12)) : (BigInt(p.w + 1) << 33n) + BigInt(Math.floor(r() * 150))));
        p.ids.push(ids);
        // The last thread's last rounds read their rows and step none (a worker without a batch holds an empty step).
        const idle = p.w === W - 1 && s >= rounds - 5;
        p.grads.push(idle ? new Float32Array(0) : Float32Array.from({ length: n * d }, (_, i) => dyadic(r) / (ids[Math.floor(i / d)] < 12n ? 1 : 16)));
      }
    }
    const t = createOptimizer(optimizer, hyper).table({ rowLength: d, seed: 3 });
    await runThreads(t, plans, n, W * n * rounds, true);
    // The reference: one table, each round's batch the threads' shares in thread order.
    const ref = createOptimizer(optimizer, hyper).table({ rowLength: d, seed: 3 });
    for (let s = 0; s < rounds; s++) {
      const stepping = plans.filter((p) => p.grads[s].length > 0), ids = new BigUint64Array(stepping.length * n), g = new Float32Array(stepping.length * n * d);
      stepping.forEach((p, i) => { ids.set(p.ids[s], i * n); g.set(p.grads[s], i * n * d); });
      for (const p of plans) if (p.grads[s].length === 0) ref.gather(p.ids[s]);
      ref.gatherBatch(ids);
      ref.stepBatch(g);
    }
    assert.equal(t.stepCount, rounds, "one step a round");
    assert.equal(t.size, ref.size);
    assert.equal(t.zeroRows, ref.zeroRows, "zero rows");
    assert.ok(ref.zeroRows > 0 && ref.liveRows > 0, `some rows zeroed, some live: ${ref.zeroRows} of ${ref.size}`);
    for (const id of ref.ids()) assert.deepEqual(record(t, id), record(ref, id), `${optimizer}: the record of id ${id}`);
  }
});
