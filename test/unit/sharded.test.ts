// A table split over shards (one WebAssembly memory each) trains exactly like
// one table: the same rows bit for bit, the same counts, the same state after
// a save/load round trip.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createOptimizer, openData } from "../../src/index.js";
import { createGenerator, generateFiles, synthConfig } from "../../src/data/synth/index.js";
import { buildModel } from "../../src/train/model.js";
import { trainModel, startPosition } from "../../src/train/trainer.js";
import { writeCheckpoint, readCheckpoint } from "../../src/train/checkpoint.js";
import { ShardedTable, loadTable } from "../../src/optim/sharded.js";
import { SparseTable } from "../../src/optim/table.js";
import { rng } from "../helpers/rng.js";
import { testRun } from "../helpers/run.js";

test("3 shards = 1 table, bit for bit, over 40 lazy steps with duplicates, zero rows and a save/load in between", () => {
  const opt = createOptimizer("group-adam", { lr: 0.05, l21: 0.3, l1: 1e-3 });
  const options = { rowLength: 5, seed: 3 };
  const one = opt.table(options);
  let many = new ShardedTable([opt.table(options), opt.table(options), opt.table(options)]);
  const r = rng(8), d = 5;
  for (let step = 0; step < 40; step++) {
    // Zipf-ish keys with duplicates, some huge 64-bit ones.
    const n = 64 + Math.floor(r() * 64);
    const keys = BigUint64Array.from({ length: n }, () => (r() < 0.1 ? (BigInt(Math.floor(r() * 2 ** 32)) << 32n) | 7n : BigInt(Math.floor(1 / (r() + 0.002)))));
    const a = one.gatherBatch(keys), b = many.gatherBatch(keys);
    assert.deepEqual(b, a, `gather, step ${step}`);
    const g = Float32Array.from({ length: n * d }, () => r() - 0.5);
    one.stepBatch(g);
    many.stepBatch(g);
    if (step === 20) many = loadTable(many.save()) as ShardedTable;
  }
  assert.ok(many.shards.every((s) => s.size > 0), "every shard holds rows");
  assert.equal(many.size, one.size);
  assert.equal(many.zeroRows, one.zeroRows);
  assert.ok(one.zeroRows > 0 && one.liveRows > 0, `zero ${one.zeroRows}, live ${one.liveRows}`);
  assert.equal(many.stepCount, one.stepCount);
  const ids = Array.from(one.ids());
  assert.deepEqual(Array.from(many.ids()).sort((x, y) => (x < y ? -1 : 1)), [...ids].sort((x, y) => (x < y ? -1 : 1)));
  for (const id of ids) {
    assert.deepEqual(many.get(id), one.get(id), `row ${id}`);
    assert.equal(many.isZero(id), one.isZero(id));
  }
  const probe = BigUint64Array.from([1n, 999999n, ids[3], 12345678901234n]);
  assert.deepEqual(many.gather(probe, undefined, { create: false }), one.gather(probe, undefined, { create: false }));
  assert.equal(many.size, one.size, "gather without create adds nothing");
  assert.ok(loadTable(one.save()) instanceof SparseTable);
  assert.throws(() => many.stepBatch(new Float32Array(5)), /needs a gatherBatch/);
  assert.throws(() => new ShardedTable([]), /1 to 64 shards/);
});

test("training with the table in 3 shards gives the model of one table; a checkpoint of it restores it", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sparsectr-shards-"));
  try {
    const path = join(dir, "train.txt");
    await generateFiles(createGenerator(synthConfig({ preset: "criteo", seed: 4, scale: 0.01 })), { format: "criteo", start: 0, rows: 8000, out: path, truth: null });
    const shas: string[] = [];
    for (const shards of [1, 3]) {
      const f = await openData(path, { batchSize: 256 });
      const m = buildModel(f.fields.length, { model: "deepfm", optimizer: "group-adam", hyper: { l21: 1e-3 }, seed: 3, shards });
      await trainModel(m, f);
      shas.push(m.sha256());
      if (shards === 3) {
        assert.ok(m.tables.every((t) => t instanceof ShardedTable));
        writeCheckpoint(dir, m, { settings: m.settings, fields: [...f.fields], format: f.format, params: m.params.map((p) => p.name), position: startPosition(), run: testRun(), data: { path, size: 0, mtimeMs: 0 } });
        const back = readCheckpoint(dir).model;
        assert.ok(back.tables.every((t) => t instanceof ShardedTable));
        assert.equal(back.sha256(), m.sha256());
      }
    }
    assert.equal(shas[1], shas[0]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the shard kernels (partitionKeys, gatherSlots, scatterSlots): wasm = ts = a direct reference, ragged sizes and row lengths", async () => {
  const { Arena } = await import("../../src/kernels/arena.js");
  const r = rng(21);
  for (const shards of [1, 2, 3, 5]) {
    const opt = createOptimizer("adam", {});
    const ref = new ShardedTable(Array.from({ length: shards }, () => opt.table({ rowLength: 1 })));
    for (const n of [1, 7, 130]) {
      const ids = BigUint64Array.from({ length: n }, () => (BigInt(Math.floor(r() * 2 ** 32)) << 32n) | BigInt(Math.floor(r() * 2 ** 32)));
      // The reference: each shard's ids in batch order, blocks one after another.
      const order = [...Array(shards).keys()].flatMap((s) => [...ids.keys()].filter((i) => ref.shardOf(ids[i]) === s));
      const slotRef = new Array<number>(n);
      order.forEach((i, j) => { slotRef[i] = j; });
      for (const d of [1, 4, 5, 13]) {
        const src = Uint32Array.from({ length: n * d }, () => Math.floor(r() * 2 ** 32));
        const results = (["wasm", "ts"] as const).map((backend) => {
          const a = new Arena(backend, { shared: true }), h = a.heap, k = a.kernels;
          const pi = h.alloc(n * 8), ps = h.alloc(n * 4), pc = h.alloc(shards * 4), pk = h.alloc(n * 8), pr = h.alloc(n * d * 4), po = h.alloc(n * d * 4), pb = h.alloc(n * d * 4);
          h.u64.set(ids, pi >>> 3);
          h.u32.set(src, pr >>> 2);
          k.partitionKeys(pi, n, shards, ps, pc, pk);
          k.gatherSlots(pr, ps, n, d, po);
          k.scatterSlots(po, ps, n, d, pb);
          return {
            slot: Array.from(h.u32.subarray(ps >>> 2, (ps >>> 2) + n)),
            counts: Array.from(h.u32.subarray(pc >>> 2, (pc >>> 2) + shards)),
            keys: Array.from(h.u64.subarray(pk >>> 3, (pk >>> 3) + n)),
            gathered: Array.from(h.u32.subarray(po >>> 2, (po >>> 2) + n * d)),
            back: Array.from(h.u32.subarray(pb >>> 2, (pb >>> 2) + n * d)),
          };
        });
        const [w, t] = results;
        assert.deepEqual(w, t, `shards ${shards}, n ${n}, d ${d}: wasm = ts`);
        assert.deepEqual(w.slot, slotRef);
        assert.deepEqual(w.keys, order.map((i) => ids[i]));
        assert.deepEqual(w.counts, [...Array(shards).keys()].map((s) => order.filter((i) => ref.shardOf(ids[i]) === s).length));
        assert.deepEqual(w.gathered, [...Array(n).keys()].flatMap((i) => Array.from(src.subarray(slotRef[i] * d, (slotRef[i] + 1) * d))));
        assert.deepEqual(w.back, Array.from(src), "scatter undoes gather");
      }
    }
  }
});
