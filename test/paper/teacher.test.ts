// The models against a known teacher (issue 4's quality bar), on 1M generated
// Criteo-shaped rows: dcn + adam comes within 0.01 of the Bayes-optimal AUC;
// group-adam deletes the pure-noise features and keeps the informative ones
// at adam's AUC.
//
// The teacher is first-order (linearShare 1): with the default teacher's
// pairwise terms no model here learns the pairs from 1M rows in one pass
// (dcn 0.787, deepfm 0.798 against a Bayes AUC of 0.824; see docs/models.md).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openData, prefetched, featureKey } from "../../src/index.js";
import { createGenerator, generateFiles, synthConfig, type TruthJson } from "../../src/data/synth/index.js";
import { buildModel, type CtrModel } from "../../src/train/model.js";
import { trainModel } from "../../src/train/trainer.js";
import { evaluateModel } from "../../src/train/evaluate.js";

const ROWS = 1_000_000, TEST_ROWS = 200_000;
const dir = mkdtempSync(join(tmpdir(), "sparsectr-teacher-"));
const trainPath = join(dir, "train.txt"), testPath = join(dir, "test.txt");
const g = createGenerator(synthConfig({ preset: "criteo", seed: 1, scale: 0.05, teacher: { linearShare: 1 } }));
const t0 = await generateFiles(g, { format: "criteo", start: 0, rows: ROWS, out: trainPath, truth: null });
const tt = await generateFiles(g, { format: "criteo", start: ROWS, rows: TEST_ROWS, out: testPath });
const truth = tt.truth as TruthJson;
test.after(() => rmSync(dir, { recursive: true, force: true }));
void t0;

/** Feature keys of every informative (field, value), as the Criteo reader makes them. */
function informativeKeys(): Set<bigint> {
  const keys = new Set<bigint>();
  truth.fields.forEach((f, i) => {
    if (!f.informative) return;
    const values = f.informativeValues ?? f.informativeBuckets?.map(String);
    assert.ok(values, `field ${f.name} lists its informative values`);
    for (const v of values) keys.add(featureKey(i, v));
  });
  return keys;
}

/** Occurrences of the informative keys in the training file. */
async function countInformative(keys: Set<bigint>): Promise<Map<bigint, number>> {
  const counts = new Map<bigint, number>();
  const f = await openData(trainPath, { batchSize: 8192 });
  for await (const b of f.batches()) {
    for (const k of b.keys) if (keys.has(k)) counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return counts;
}

async function train(optimizer: "adam" | "group-adam", hyper: object): Promise<{ m: CtrModel; auc: number }> {
  const f = prefetched(await openData(trainPath, { batchSize: 512 }), true);
  const m = buildModel(f.fields.length, { model: "dcn", optimizer, hyper, seed: 1 });
  await trainModel(m, f);
  const e = await evaluateModel(m, await openData(testPath, { batchSize: 4096 }));
  return { m, auc: e.auc };
}

test("dcn + adam on 1M rows comes within 0.01 of the Bayes AUC; group-adam zeroes >= 90% of the noise, keeps >= 95% of the informative features seen 100+ times, at adam's AUC +-0.005", async () => {
  const bayes = truth.bayes.auc ?? NaN;
  const adam = await train("adam", {});
  assert.ok(bayes - adam.auc <= 0.01, `adam AUC ${adam.auc.toFixed(4)}, Bayes ${bayes.toFixed(4)}`);

  const group = await train("group-adam", { l21: 1e-3, l2: 1e-5 });
  assert.ok(Math.abs(group.auc - adam.auc) <= 0.005, `group-adam AUC ${group.auc.toFixed(4)} vs adam ${adam.auc.toFixed(4)}`);
  const informative = informativeKeys();
  const table = group.m.tables[0];
  let noise = 0, noiseZero = 0;
  for (const id of table.ids()) {
    if (informative.has(id)) continue;
    noise++;
    if (table.isZero(id)) noiseZero++;
  }
  const counts = await countInformative(informative);
  let frequent = 0, kept = 0;
  for (const [k, c] of counts) {
    if (c < 100) continue;
    frequent++;
    if (!table.isZero(k)) kept++;
  }
  assert.ok(noise > 100_000 && frequent > 500, `noise ${noise}, frequent informative ${frequent}`);
  assert.ok(noiseZero / noise >= 0.9, `noise zeroed ${noiseZero}/${noise}`);
  assert.ok(kept / frequent >= 0.95, `informative kept ${kept}/${frequent}`);
  console.log(`# bayes ${bayes.toFixed(4)} adam ${adam.auc.toFixed(4)} group-adam ${group.auc.toFixed(4)} feature rate ${group.m.featureRate.toFixed(4)} noise zeroed ${(noiseZero / noise).toFixed(4)} (${noise}) informative 100+ kept ${(kept / frequent).toFixed(4)} (${frequent})`);
});
