// End to end on the real Criteo sample: a model trains, beats chance on the
// test file, group lasso zeroes most features, and a seed fixes the model bit
// for bit (the model hash).
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { openData } from "../../src/index.js";
import { buildModel } from "../../src/train/model.js";
import { trainModel } from "../../src/train/trainer.js";
import { evaluateModel } from "../../src/train/evaluate.js";
import { haveShared, SHARED } from "../helpers/shared.js";

const have = haveShared("criteo/train.txt");

async function run(model: "dcn" | "lr", optimizer: "adam" | "group-adam", l21: number, seed: number) {
  const train = await openData(join(SHARED, "criteo/train.txt"), { batchSize: 512 });
  const testFile = await openData(join(SHARED, "criteo/test.txt"), { batchSize: 512 });
  const m = buildModel(train.fields.length, { model, optimizer, hyper: optimizer === "adam" ? {} : { l21 }, seed });
  const r = await trainModel(m, train);
  const e = await evaluateModel(m, testFile);
  return { m, r, e, sha: m.sha256() };
}

test("dcn on the Criteo sample: AUC well above chance; group-adam keeps under 10% of the features", { skip: !have && "shared data not present" }, async () => {
  const adam = await run("dcn", "adam", 0, 1);
  assert.equal(adam.r.rows, 7200);
  assert.equal(adam.e.rows, 391);
  assert.ok(adam.e.auc > 0.62, `adam AUC ${adam.e.auc}`);
  assert.equal(adam.m.featureRate, 1);
  const group = await run("dcn", "group-adam", 1e-3, 1);
  assert.ok(group.m.featureRate < 0.1, `feature rate ${group.m.featureRate}`);
  assert.ok(group.e.auc > 0.6, `group-adam AUC ${group.e.auc}`);
  assert.ok(group.m.modelBytes < adam.m.modelBytes / 2);
});

test("the same seed gives the same model bit for bit; another seed does not", { skip: !have && "shared data not present" }, async () => {
  const a = await run("lr", "group-adam", 1e-4, 7), b = await run("lr", "group-adam", 1e-4, 7), c = await run("dcn", "adam", 0, 8), d = await run("dcn", "adam", 0, 9);
  assert.equal(a.sha, b.sha);
  assert.equal(a.e.auc, b.e.auc);
  assert.notEqual(c.sha, d.sha);
});
