// Cluster training (src/cluster/train.ts) against a local Redis Cluster: one
// worker on one master that synchronises after every step gives the
// single-process model after 1,000 steps (the issue's bound is 1e-5 relative
// with the same zero rows; the merge rules make it bit for bit), with the
// model rank 0 takes back from the store at the end (and a fresh model pulled
// from the store alone is that model too); a worker that stopped
// rejoins from its last synchronisation and the run ends near an
// uninterrupted one; the store's rows and counts hold what the workers pushed;
// a feature one worker counted counts one sighting more at its first
// occurrence on another (brute force against the other worker alone), and
// rank 0 ends routing every row of the run to itself; workers that train
// with threads (the data-parallel trainer) end as near the single process as
// workers of one thread.
import { test } from "node:test";
import assert from "node:assert/strict";
import { openData } from "../../src/data/index.js";
import { configureLayers } from "../../src/kernels/layers/index.js";
import { buildModel, type TrainSettings } from "../../src/train/model.js";
import { trainModel, type TrainPosition } from "../../src/train/trainer.js";
import { evaluateModel } from "../../src/train/evaluate.js";
import type { SparseTable } from "../../src/optim/table.js";
import { H_COUNT } from "../../src/kernels/layout.js";
import { DEFAULT_BUCKETS, trainCluster } from "../../src/cluster/train.js";
import { ClusterStore } from "../../src/cluster/store.js";
import { ClusterSync } from "../../src/cluster/sync.js";
import { oovKey } from "../../src/train/admission.js";
import { RunState } from "../../src/cluster/run-state.js";
import { startLocalCluster } from "../../src/cluster/local-redis.js";
import { clusterSkip, criteoFile, pulledModel } from "../helpers/cluster.js";

const skip = clusterSkip;
const train = await criteoFile("cluster-train", 4, 40_000);
configureLayers({ threads: 1 });

// A small dcn so that 1,000 synchronisations stay quick; l21 strong enough to zero rows.
const SETTINGS: TrainSettings = {
  model: "dcn", optimizer: "group-adam", hyper: { lr: 0.003, l21: 2e-3 }, batch: 16, epochs: 1, seed: 11, minCount: 2,
  modelConfig: { embedding: 4, hidden: [16], crossLayers: 1 },
};

function maxRelative(a: SparseTable, b: SparseTable): { rel: number; zeroDiff: number } {
  let rel = 0, zeroDiff = 0;
  for (const id of a.ids()) {
    const x = a.get(id)!, y = b.get(id);
    assert.ok(y, `row ${id} is in both models`);
    if (a.isZero(id) !== b.isZero(id)) zeroDiff++;
    for (let j = 0; j < x.length; j++) rel = Math.max(rel, Math.abs(x[j] - y[j]) / Math.max(Math.abs(x[j]), 1e-30));
  }
  return { rel, zeroDiff };
}

test("one worker, one master, a synchronisation every step: the single-process model after 1,000 steps (within 1e-5, the same zero rows)", { skip }, async () => {
  const file = await openData(train, { batchSize: 16 });
  const range = { start: 0, end: 16_000 };
  const single = buildModel(file.fields.length, SETTINGS);
  await trainModel(single, file, range);
  const c = await startLocalCluster({ masters: 1 });
  try {
    const m = buildModel(file.fields.length, SETTINGS);
    const r = await trainCluster(m, file, range, { url: c.url, workers: 1, rank: 0, syncEveryRows: 16, run: "equal", overlap: false });
    assert.equal(r.position.steps, 1000);
    assert.ok(r.cluster.syncs >= 1000, `a synchronisation after every step (${r.cluster.syncs})`);
    assert.ok(single.tables[0].zeroRows > 0 && single.tables[0].liveRows > 0, "some rows zero, some live");
    assert.equal(m.tables[0].size, single.tables[0].size);
    assert.equal(m.tables[0].zeroRows, single.tables[0].zeroRows, "zero rows");
    const { rel, zeroDiff } = maxRelative(single.tables[0] as SparseTable, m.tables[0] as SparseTable);
    assert.equal(zeroDiff, 0, "the same rows are zero");
    assert.ok(rel <= 1e-5, `largest relative difference of a weight ${rel}`);
    for (let i = 0; i < m.dense.length; i++) assert.deepEqual(m.dense[i].weights(), single.dense[i].weights(), `dense parameter ${m.params[i].name}`);
    // The merge rules return the pushed state itself when no other worker changed it: bit for bit.
    assert.equal(m.sha256(), single.sha256());
    // And the store alone holds that model: a fresh one pulled from it is the same.
    const fresh = await pulledModel(c.url, "equal", DEFAULT_BUCKETS, file.fields.length, SETTINGS);
    assert.equal(fresh.tables[0].size, single.tables[0].size, "every row is in the store");
    for (let i = 0; i < fresh.dense.length; i++) assert.deepEqual(fresh.dense[i].weights(), single.dense[i].weights(), `dense parameter ${fresh.params[i].name} from the store`);
    const { rel: storeRel, zeroDiff: storeZeroDiff } = maxRelative(single.tables[0] as SparseTable, fresh.tables[0] as SparseTable);
    assert.ok(storeRel === 0 && storeZeroDiff === 0, `the store's rows: largest relative difference ${storeRel}, ${storeZeroDiff} zero rows differ`);
  } finally {
    await c.stop();
  }
});

test("the store holds every row the worker trained, with its update count; the run refuses to join again once finished", { skip }, async () => {
  const file = await openData(train, { batchSize: 64 });
  const c = await startLocalCluster({ masters: 3 });
  try {
    const m = buildModel(file.fields.length, { ...SETTINGS, batch: 64 });
    await trainCluster(m, file, { start: 0, end: 8_000 }, { url: c.url, workers: 1, rank: 0, syncEveryRows: 1024, run: "held", buckets: 16 });
    const store = await ClusterStore.connect(c.url, "held", 16);
    try {
      const t = m.tables[0] as SparseTable, rb = t.recordBytes;
      const { ids, records } = await store.rows(0, rb, t.rowLength);
      const stored = new Map<bigint, number>();
      const view = new DataView(records.buffer, records.byteOffset, records.byteLength);
      ids.forEach((id, k) => stored.set(id, view.getUint32(k * rb + H_COUNT, true)));
      assert.equal(stored.size, ids.length, "each id once");
      // Every row the worker updated is there with its update count; no other row is.
      const rows = t.mutate(), heap = rows.arena.heap;
      let updated = 0;
      for (const id of t.ids()) {
        const count = heap.u32[(rows.lookup(Number(id & 0xffffffffn), Number(id >> 32n)) + H_COUNT) >>> 2];
        if (count === 0) continue;
        updated++;
        assert.equal(stored.get(id), count, `row ${id}: update count in the store`);
      }
      assert.ok(updated > 0);
      assert.equal(stored.size, updated, "the store holds the updated rows, and only those");
      await assert.rejects(new RunState(store).join("{}", 1), /has finished/);
    } finally {
      await store.close();
    }
  } finally {
    await c.stop();
  }
});

test("a worker that stopped rejoins from its last synchronisation: the position and model come from the store, and the run ends near an uninterrupted one", { skip }, async () => {
  const file = await openData(train, { batchSize: 64 });
  const range = { start: 0, end: 20_000 };
  // Every feature admitted: the rejoined worker's admission counts (not kept in the store) do not matter.
  const settings = { ...SETTINGS, batch: 64, minCount: 1 };
  const c = await startLocalCluster({ masters: 3 });
  try {
    const whole = buildModel(file.fields.length, settings);
    await trainCluster(whole, file, range, { url: c.url, workers: 1, rank: 0, syncEveryRows: 2048, run: "whole" });
    // The first attempt stops (Ctrl-C) after 6,000 rows: it pushes its changes and records where it is.
    const first = buildModel(file.fields.length, settings);
    let stopAt = false;
    const r1 = await trainCluster(first, file, range, { url: c.url, workers: 1, rank: 0, syncEveryRows: 2048, run: "rejoin" }, (p) => { stopAt = p.rows >= 6_000; }, { shouldStop: () => stopAt });
    assert.equal(r1.stopped, true);
    const again = buildModel(file.fields.length, settings);
    const r2 = await trainCluster(again, file, range, { url: c.url, workers: 1, rank: 0, syncEveryRows: 2048, run: "rejoin" });
    assert.equal(r2.stopped, false);
    assert.equal(r2.position.rows, 20_000, "the rejoined worker continues to the end of its part");
    assert.equal(r2.rows, 20_000 - r1.position.rows, "it trains only the rows after its last synchronisation");
    assert.equal(again.tables[0].size, whole.tables[0].size, "the same rows: those of the first attempt came from the store");
    const { zeroDiff } = maxRelative(whole.tables[0] as SparseTable, again.tables[0] as SparseTable);
    assert.ok(zeroDiff <= 0.05 * whole.tables[0].size, `${zeroDiff} rows zero in one model only`);
  } finally {
    await c.stop();
  }
});

test("admission across workers: the features one worker counted count one sighting more at their first occurrence on another (brute force); rank 0 routes every row of the run to itself", { skip }, async () => {
  const file = await openData(train, { batchSize: 64 });
  const settings = { ...SETTINGS, batch: 64 }, parts = [{ start: 0, end: 6_000 }, { start: 6_000, end: 12_000 }];
  const c = await startLocalCluster({ masters: 3 });
  try {
    // Worker A trains its part and merges; then worker B, sharing sightings, trains the next part; B0 the same part alone.
    const store = await ClusterStore.connect(c.url, "seen", 64), storeB = await ClusterStore.connect(c.url, "seen", 64);
    try {
      const a = buildModel(file.fields.length, settings), b = buildModel(file.fields.length, settings), b0 = buildModel(file.fields.length, settings);
      const sa = new ClusterSync(store, a), sb = new ClusterSync(storeB, b);
      await sa.shareSightings(a.admission!, 2 ** 16);
      await trainModel(a, file, parts[0]);
      await sa.sync();
      await sb.shareSightings(b.admission!, 2 ** 16);
      await trainModel(b, file, parts[1]);
      await trainModel(b0, file, parts[1]);
      const e = b0.admission!.entries();
      let extra = 0, alone = 0;
      for (let i = 0; i < e.length; i += 3) {
        const inA = a.admission!.count(e[i], e[i + 1]) > 0, got = b.admission!.count(e[i], e[i + 1]);
        if (inA) assert.equal(got, e[i + 2] + 1, `key (${e[i]}, ${e[i + 1]}), counted by A: ${got}, B alone ${e[i + 2]}`);
        else {
          alone++;
          assert.ok(got === e[i + 2] || got === e[i + 2] + 1, `key (${e[i]}, ${e[i + 1]}) not counted by A: ${got}, B alone ${e[i + 2]}`);
          if (got !== e[i + 2]) extra++;
        }
      }
      assert.ok(alone > 100 && alone < e.length / 3, `${alone} of ${e.length / 3} keys of B's part not in A's`);
      // Only the filter's false positives count a key A did not see.
      assert.ok(extra <= 3 * sb.sightingsFalsePositiveRate! * alone + 3, `${extra} of ${alone} keys A did not count were counted one more`);
      assert.ok(b.admission!.admitted > b0.admission!.admitted, "more features admitted");
    } finally {
      await Promise.all([store.close(), storeB.close()]);
    }
    // A run of two workers: rank 0's model ends with every row of the run (admitted by either), each routed to itself.
    const ms = [0, 1].map(() => buildModel(file.fields.length, settings));
    await Promise.all(ms.map((m, rank) => trainCluster(m, file, { start: 0, end: 12_000 }, { url: c.url, workers: 2, rank, syncEveryRows: 2048, run: "routed", buckets: 64 })));
    const t = ms[0].tables[0], oov = new Set(Array.from({ length: file.fields.length }, (_, f) => oovKey(f)));
    let rows = 0;
    for (const id of t.ids()) {
      if (oov.has(id)) continue;
      rows++;
      assert.ok(ms[0].admission!.count(Number(id & 0xffffffffn), Number(id >> 32n)) >= 2, `row ${id} of the run is admitted on rank 0`);
    }
    assert.ok(rows > ms[1].admission!.admitted, "rank 0 holds rows rank 1 admitted");
  } finally {
    await c.stop();
  }
});

test("workers of two threads each (the data-parallel trainer in each worker): every row trained, rank 0 holds every row of the run, admitted, and ends as near the single process as workers of one thread", { skip }, async () => {
  const file = await openData(train, { batchSize: 64 }), held = await openData(train, { batchSize: 4096, range: { start: 30_000, end: 40_000 } });
  const settings = { ...SETTINGS, batch: 64 }, range = { start: 0, end: 24_000 };
  const single = buildModel(file.fields.length, settings);
  await trainModel(single, file, range);
  const base = (await evaluateModel(single, held)).auc;
  const c = await startLocalCluster({ masters: 3 });
  try {
    const auc: Record<string, number> = {};
    for (const threads of [1, 2]) {
      const ms = [0, 1].map(() => buildModel(file.fields.length, settings));
      const rs = await Promise.all(ms.map((m, rank) => trainCluster(m, file, range, { url: c.url, workers: 2, rank, syncEveryRows: 2048, run: `threads${threads}`, buckets: 64, threads })));
      rs.forEach((r, rank) => {
        assert.equal(r.position.rows, 12_000, `${threads} threads: rank ${rank} trained its part`);
        assert.ok(r.cluster.syncs >= 1 && r.cluster.denseSyncs >= 1, `${threads} threads: rank ${rank} synchronised (${r.cluster.syncs}, ${r.cluster.denseSyncs})`);
        if (threads > 1) assert.equal(r.position.parts, undefined, "the data-parallel trainer's position, finished");
      });
      const t = ms[0].tables[0], oov = new Set(Array.from({ length: file.fields.length }, (_, f) => oovKey(f)));
      for (const id of t.ids()) {
        if (!oov.has(id)) assert.ok(ms[0].admission!.count(Number(id & 0xffffffffn), Number(id >> 32n)) >= 2, `${threads} threads: row ${id} of the run is admitted on rank 0`);
      }
      // Fewer with threads: each process's threads read their parts at once, so more first sightings come before the other process's filter holds them.
      assert.ok(Math.abs(t.size / single.tables[0].size - 1) < 0.25, `${threads} threads: ${t.size} rows on rank 0, ${single.tables[0].size} in one process`);
      auc[threads] = (await evaluateModel(ms[0], held)).auc;
    }
    assert.ok(Math.abs(auc[2] - base) <= Math.max(0.01, 2 * Math.abs(auc[1] - base)), `held-out AUC: one process ${base}, workers of one thread ${auc[1]}, of two ${auc[2]}`);
  } finally {
    await c.stop();
  }
});

test("early stopping within the run: rank 0 evaluates the store's whole model at barriers of every worker, at the run's rows; ending there ends every worker as complete, mid-part (workers of one thread and of two)", { skip }, async () => {
  const file = await openData(train, { batchSize: 64 });
  const settings = { ...SETTINGS, batch: 64 }, range = { start: 0, end: 24_000 };
  const c = await startLocalCluster({ masters: 3 });
  try {
    for (const threads of [1, 2]) {
      const run = `early${threads}`;
      const store = await ClusterStore.connect(c.url, run, 64);
      try {
        const ms = [0, 1].map(() => buildModel(file.fields.length, settings));
        let own = 0, kept = 0;
        const seen: { rows: number; own: number; size: number; stored: number }[] = [];
        const evaluation = {
          everyRows: 4_000,
          evaluate: async (pos: TrainPosition): Promise<boolean> => {
            const stored = (await store.rows(0, (ms[0].tables[0] as SparseTable).recordBytes, ms[0].tables[0].rowLength)).ids.length;
            seen.push({ rows: pos.rows, own, size: ms[0].tables[0].size, stored });
            return seen.length === 3;
          },
          keep: () => { kept++; },
        };
        const rs = await Promise.all(ms.map((m, rank) => trainCluster(m, file, range, {
          url: c.url, workers: 2, rank, syncEveryRows: 2048, run, buckets: 64, threads, ...(rank === 0 ? { evaluation } : {}),
        }, rank === 0 ? (p) => { own = p.rows; } : undefined)));
        assert.equal(seen.length, 3, `${threads} threads: three evaluations, the last one ends the run`);
        assert.equal(kept, 2, "the state is kept after each evaluation that goes on");
        assert.equal(rs[0].cluster.evaluations, 3);
        seen.forEach((e, k) => {
          assert.equal(e.size, e.stored, `${threads} threads, evaluation ${k}: rank 0 holds the store's whole model (${e.size} rows, ${e.stored} stored)`);
          assert.ok(e.rows > e.own && e.rows <= e.own + 12_000, `${threads} threads, evaluation ${k}: the run's rows ${e.rows}, rank 0's ${e.own}`);
          // Every 2,000 of rank 0's rows (4,000 of the run's over 2 workers), at its next pause.
          assert.ok(e.own - (seen[k - 1]?.own ?? 0) >= 2_000 - 64, `${threads} threads, evaluation ${k} after ${e.own} of rank 0's rows (every 2,000)`);
        });
        console.log(`# ${threads} threads: evaluations at ${seen.map((e) => `${e.rows} rows (rank 0: ${e.own})`).join(", ")}; rank 1 ended at ${rs[1].position.rows}`);
        // Each worker ends at the last evaluation, mid-part, unless it had finished its part before it (it is then counted as there):
        // with one thread both ranks train in turns on this thread, so rank 1 is mid-part then (about 6,000 of its 12,000 rows).
        rs.forEach((r, rank) => {
          assert.equal(r.stopped, false);
          assert.equal(r.position.done, true, `${threads} threads: rank ${rank} finishes`);
          if (rank === 0 || threads === 1 || r.position.rows < 12_000) {
            assert.equal(r.earlyStopped, true, `${threads} threads: rank ${rank} ends early`);
            assert.ok(r.position.rows < 12_000, `${threads} threads: rank ${rank} stops mid-part (${r.position.rows} rows)`);
          }
        });
        assert.equal(ms[0].tables[0].size, (await store.rows(0, (ms[0].tables[0] as SparseTable).recordBytes, ms[0].tables[0].rowLength)).ids.length, "rank 0 ends with the run's model");
      } finally {
        await store.close();
      }
    }
  } finally {
    await c.stop();
  }
});
