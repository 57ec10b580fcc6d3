// Checkpoints of a cluster run (src/cluster/snapshot.ts, run-state.ts):
// one worker that synchronises after every step, checkpointed halfway and
// restored from that checkpoint into a new, empty cluster (the store lost),
// ends with the uninterrupted single-process model bit for bit; restored
// into the cluster that still holds the run, it starts a new generation and
// the old generation's keys go; a worker of the old generation is told to
// start again; a rank above 0 waits for rank 0 to set the run up.
import { test } from "node:test";
import assert from "node:assert/strict";
import { openData } from "../../src/data/index.js";
import { configureLayers } from "../../src/kernels/layers/index.js";
import { buildModel, type CtrModel, type TrainSettings } from "../../src/train/model.js";
import { assembleModel } from "../../src/train/restore.js";
import { trainModel, type TrainPosition } from "../../src/train/trainer.js";
import type { ClusterRecord } from "../../src/train/checkpoint.js";
import { DEFAULT_BUCKETS, trainCluster } from "../../src/cluster/train.js";
import type { SparseTable } from "../../src/optim/table.js";
import { ClusterStore } from "../../src/cluster/store.js";
import { RunState } from "../../src/cluster/run-state.js";
import { startLocalCluster } from "../../src/cluster/local-redis.js";
import { clusterSkip, criteoFile, pulledModel } from "../helpers/cluster.js";

const skip = clusterSkip;
const train = await criteoFile("cluster-ckpt", 5, 16_000);
configureLayers({ threads: 1 });

// Admission counts (min count 2) and l21 strong enough to zero rows: both must come back exactly.
const SETTINGS: TrainSettings = {
  model: "dcn", optimizer: "group-adam", hyper: { lr: 0.003, l21: 2e-3 }, batch: 16, epochs: 1, seed: 12, minCount: 2,
  modelConfig: { embedding: 4, hidden: [16], crossLayers: 1 },
};

/** A checkpoint held in memory: the model's states (as the checkpoint file keeps them), the position, the record. */
interface Held { tables: Uint8Array[]; dense: Uint8Array[]; admission?: Uint8Array; position: TrainPosition; record: ClusterRecord; rankAdmissions: Uint8Array[] }

function hold(m: CtrModel, position: TrainPosition, record: ClusterRecord, rankAdmissions: Uint8Array[]): Held {
  return { tables: m.tables.map((t) => t.save()), dense: m.dense.map((d) => d.save()), admission: m.admission?.save(), position, record, rankAdmissions };
}

function rebuild(h: Held, fields: number, m: CtrModel): CtrModel {
  return assembleModel(m.settings, fields, m.params.map((p) => p.name), h.tables, h.dense, "held checkpoint", h.admission);
}

test("one worker, a synchronisation every step: checkpointed at step 250 and restored into an empty cluster, it ends with the single-process model bit for bit, and so does the store", { skip }, async () => {
  const file = await openData(train, { batchSize: 16 });
  const range = { start: 0, end: 8_000 };
  const single = buildModel(file.fields.length, SETTINGS);
  await trainModel(single, file, range);
  assert.ok(single.tables[0].zeroRows > 0, "some rows are zero");
  const held: Held[] = [];
  const o = { workers: 1, rank: 0, syncEveryRows: 16, run: "ckpt", overlap: false };
  const first = await startLocalCluster({ masters: 1 });
  let m: CtrModel;
  try {
    m = buildModel(file.fields.length, SETTINGS);
    const r = await trainCluster(m, file, range, { ...o, url: first.url, checkpoint: (p, rec, adm) => held.push(hold(m, p, rec, adm)) }, undefined, { checkpointEveryRows: 4_000 });
    assert.equal(r.cluster.checkpoints, 1, "one checkpoint (at 4,000 rows; none at the end)");
    assert.equal(m.sha256(), single.sha256(), "checkpoints do not change the run");
  } finally {
    await first.stop();
  }
  const h = held[0];
  assert.equal(h.record.checkpoint, 1);
  assert.deepEqual(h.record.done, []);
  assert.equal(h.record.positions.length, 1);
  assert.equal((JSON.parse(h.record.positions[0]!) as TrainPosition).rows, h.position.rows);
  assert.ok(h.position.rows >= 4_000 && h.position.rows < 4_100, `checkpoint at ${h.position.rows} rows`);
  assert.ok(h.rankAdmissions[0].length > 0, "the worker's admission counts are kept");
  // The store is lost: a new cluster, restored from the checkpoint.
  const second = await startLocalCluster({ masters: 3 });
  try {
    const back = rebuild(h, file.fields.length, m);
    const r = await trainCluster(back, file, range, { ...o, url: second.url, restore: { record: h.record, rankAdmissions: h.rankAdmissions } });
    assert.equal(r.rows, 8_000 - h.position.rows, "it trains the rows after the checkpoint");
    assert.equal(r.cluster.generation, 1);
    assert.equal(back.tables[0].zeroRows, single.tables[0].zeroRows);
    assert.equal(back.sha256(), single.sha256(), "the uninterrupted model, bit for bit");
    // The store holds the whole model too (the rows no step touched after the restore came from the checkpoint).
    const fresh = await pulledModel(second.url, "ckpt", DEFAULT_BUCKETS, file.fields.length, SETTINGS);
    const a = single.tables[0] as SparseTable, b = fresh.tables[0] as SparseTable;
    assert.equal(b.size, a.size, "every row is in the store");
    for (const id of a.ids()) assert.deepEqual(b.get(id), a.get(id), `row ${id} in the store`);
    for (let i = 0; i < fresh.dense.length; i++) assert.deepEqual(fresh.dense[i].weights(), single.dense[i].weights(), `dense parameter ${fresh.params[i].name} in the store`);
  } finally {
    await second.stop();
  }
});

test("a restore into the cluster that holds the run starts a new generation: the old keys go, an old worker is told to start again, ranks above 0 wait for rank 0", { skip }, async () => {
  const file = await openData(train, { batchSize: 64 });
  const range = { start: 0, end: 8_000 };
  const settings = { ...SETTINGS, batch: 64 };
  const c = await startLocalCluster({ masters: 3 });
  try {
    // Rank 1 of a fresh run waits for rank 0 to set it up.
    const early = await ClusterStore.connect(c.url, "gen", 16);
    let waited = false;
    const waiting = new RunState(early).awaitRun().then(() => { waited = true; });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(waited, false, "rank 1 waits while the run has no generation");
    const held: Held[] = [];
    const m = buildModel(file.fields.length, settings);
    const o = { url: c.url, workers: 1, rank: 0, syncEveryRows: 1024, run: "gen", buckets: 16 };
    await trainCluster(m, file, range, { ...o, checkpoint: (p, rec, adm) => held.push(hold(m, p, rec, adm)) }, undefined, { checkpointEveryRows: 4_000 });
    await waiting;
    assert.equal(early.generation, 1, "rank 1 entered generation 1 once rank 0 set it up");
    assert.equal(held.length, 1);
    const keysOf = async (g: number): Promise<number> => {
      let n = 0;
      for (const node of early.redis.nodes("master")) n += (await node.keys(`sctr:gen:${g}:*`)).length;
      return n;
    };
    assert.ok(await keysOf(1) > 16, "generation 1's keys");
    // Restored while generation 1 is still in the store: generation 2, and generation 1's keys go.
    const back = rebuild(held[0], file.fields.length, m);
    const r = await trainCluster(back, file, range, { ...o, restore: { record: held[0].record, rankAdmissions: held[0].rankAdmissions } });
    assert.equal(r.cluster.generation, 2);
    assert.equal(r.rows, 8_000 - held[0].position.rows);
    assert.equal(await keysOf(1), 0, "no key of generation 1 is left");
    assert.ok(await keysOf(2) > 16);
    // A worker still in generation 1 is stopped at its next synchronisation.
    await assert.rejects(new RunState(early).checkGeneration(), /was restored from a checkpoint since this worker joined it \(generation 1, now 2\): start this worker again/);
    await early.close();
  } finally {
    await c.stop();
  }
});
