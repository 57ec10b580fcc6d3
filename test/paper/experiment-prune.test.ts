// The magnitude-pruning baseline: it keeps exactly N rows, and they are the N
// rows of largest norm (norms recomputed here in float64 from table.get, not
// by the table's own pruning code); after fine-tuning (which revives rows) the
// final prune is exact again; the chosen fine-tuning share is the one with the
// best validation AUC; the run is deterministic; snapshots restore exactly.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { prepareGenerated, openPart, type DatasetSpec } from "../../src/experiments/data.js";
import { cutPoints, disposeModel, magnitudePruning, pruneModel, restore, snapshot } from "../../src/experiments/prune.js";
import { buildModel, type TrainSettings } from "../../src/train/model.js";
import { trainModel } from "../../src/train/trainer.js";

const dir = mkdtempSync(join(tmpdir(), "sparsectr-prune-test-"));
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
const SETTINGS: TrainSettings = { model: "dcn", optimizer: "adam", hyper: { lr: 1e-3 }, seed: 3, modelConfig: { hidden: [16] } };

let ds: DatasetSpec;
async function data(): Promise<DatasetSpec> {
  ds ??= await prepareGenerated("criteo", join(dir, "data"), { scale: 0.02 });
  return ds;
}

/** The table's rows as (id, float64 norm), computed here. */
function norms(t: { ids(): BigUint64Array; get(id: bigint): Float32Array | undefined }): { id: bigint; n: number }[] {
  return Array.from(t.ids(), (id) => {
    const w = t.get(id)!;
    let s = 0;
    for (const x of w) s += x * x;
    return { id, n: Math.sqrt(s) };
  });
}

test("pruneModel keeps exactly N rows, the N of largest norm", async () => {
  const d = await data();
  const train = await openPart(d, d.train, 512);
  const m = buildModel(train.file.fields.length, SETTINGS);
  await trainModel(m, train.file, train.range);
  const t = m.tables[0];
  const before = norms(t).sort((a, b) => b.n - a.n);
  assert.ok(before.length > 1000, `${before.length} rows`);
  for (const keep of [before.length - 1, 777, 50, 1]) {
    const c = restore(snapshot(m, train.file.fields.length));
    pruneModel(c, keep);
    const ct = c.tables[0];
    assert.equal(ct.liveRows, keep);
    assert.equal(c.liveFeatures, keep);
    const live = new Set(Array.from(ct.ids()).filter((id) => !ct.isZero(id)));
    assert.equal(live.size, keep);
    // The kept rows are the top `keep` by norm; at the boundary, only an exact tie could swap rows.
    const boundary = before[keep - 1].n;
    for (let i = 0; i < before.length; i++) {
      const { id, n } = before[i];
      if (n > boundary) assert.ok(live.has(id), `row ${i} (norm ${n}) was pruned`);
      else if (n < boundary) assert.ok(!live.has(id), `row ${i} (norm ${n}) was kept`);
    }
    // Pruned rows are exactly +0.0; kept rows are unchanged.
    for (const { id } of before) {
      const w = ct.get(id)!;
      if (live.has(id)) assert.deepEqual(w, t.get(id));
      else assert.ok(w.every((x) => Object.is(x, 0)), "pruned row not +0.0");
    }
    disposeModel(c);
  }
  disposeModel(m);
});

test("snapshot/restore: a restored model continues training bit for bit like the original", async () => {
  const d = await data();
  const train = await openPart(d, d.train, 512);
  const F = train.file.fields.length, n = d.trainRows;
  const a = buildModel(F, SETTINGS);
  await trainModel(a, train.file, { start: 0, end: Math.floor(n / 2) });
  const b = restore(snapshot(a, F));
  assert.equal(b.sha256(), a.sha256());
  await trainModel(a, train.file, { start: Math.floor(n / 2), end: n });
  await trainModel(b, train.file, { start: Math.floor(n / 2), end: n });
  assert.equal(b.sha256(), a.sha256());
  disposeModel(a);
  disposeModel(b);
});

test("magnitudePruning: exact feature counts after fine-tuning, best k by validation AUC, deterministic", async () => {
  const d = await data();
  const train = await openPart(d, d.train, 512);
  const val = await openPart(d, d.val, 4096), test = await openPart(d, d.test, 4096);
  const pd = { fields: train.file.fields.length, train: train.file, trainRange: { start: 0, end: d.trainRows }, val, test };
  const targets = [{ label: "a", keep: 2000 }, { label: "b", keep: 300 }, { label: "c", keep: 20 }];
  const kept: number[] = [];
  const run = await magnitudePruning(SETTINGS, pd, targets, [0, 10, 30], (t, m) => {
    // The chosen model: exactly `keep` live rows (the final prune undoes revivals by fine-tuning).
    kept.push(m.tables[0].liveRows);
    assert.equal(m.liveFeatures, t.keep);
  });
  assert.deepEqual(kept, [2000, 300, 20]);
  for (const [i, r] of run.targets.entries()) {
    assert.equal(r.liveFeatures, targets[i].keep);
    assert.equal(r.features, run.base.features);
    assert.equal(r.featureRate, targets[i].keep / run.base.features);
    assert.deepEqual(Object.keys(r.valAucByK).sort(), ["0", "10", "30"]);
    const best = Math.max(...Object.values(r.valAucByK));
    assert.equal(r.valAucByK[String(r.chosenK)], best);
    assert.equal(r.val.auc, best);
  }
  const again = await magnitudePruning(SETTINGS, pd, targets, [0, 10, 30]);
  assert.deepEqual(again, run);
  assert.deepEqual(Object.fromEntries(cutPoints(0, 1000, [0, 10, 20, 30])), { 0: 1000, 10: 900, 20: 800, 30: 700 });
  await assert.rejects(magnitudePruning({ ...SETTINGS, optimizer: "group-adam" }, pd, targets), /plain optimizer/);
});
