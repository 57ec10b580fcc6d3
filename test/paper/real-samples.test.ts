// The paper's model for each real sample in ../shared/data against logistic
// regression trained the same way (adam, lr 1e-3, batch 64, two epochs: the
// samples are small): dcn on Criteo (test on test.txt + dev.txt), mlp on
// Avazu (time-ordered 80/20 split), opnn on iPinYou (train.fm / test.fm).
// Each must beat lr or come within 0.01 of it (mean over three seeds; lr
// starts at zero, so its seed changes nothing). And `sparsectr train` with its
// defaults reaches the target AUC on the Criteo sample with a sparse model.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { openData, holdoutSplit, AucAccumulator, type DataFile } from "../../src/index.js";
import { buildModel } from "../../src/train/model.js";
import { trainModel } from "../../src/train/trainer.js";
import type { ModelName } from "../../src/models/index.js";
import { haveShared, SHARED } from "../helpers/shared.js";

const have = haveShared("criteo/train.txt", "avazu/sample.csv", "ipinyou/train.fm.txt");
type Range = { start?: number; end?: number };
const BATCH = 64;

async function aucOf(predict: (f: DataFile, r: Range) => AsyncGenerator<[Float64Array, Float32Array, number]>, parts: [DataFile, Range][]): Promise<number> {
  const a = new AucAccumulator();
  for (const [f, r] of parts) for await (const [p, y, n] of predict(f, r)) for (let i = 0; i < n; i++) a.add(p[i], y[i]);
  return a.value();
}

async function compare(model: ModelName, train: DataFile, range: Range, testParts: [DataFile, Range][]): Promise<{ model: number[]; lr: number }> {
  const run = async (name: ModelName, seed: number): Promise<number> => {
    const m = buildModel(train.fields.length, { model: name, optimizer: "adam", hyper: { lr: 1e-3 }, seed, epochs: 2, batch: BATCH });
    await trainModel(m, train, range);
    return aucOf(async function* (f, r) { for await (const b of f.batches(r)) yield [m.predict(b), b.labels, b.rows]; }, testParts);
  };
  const aucs = [];
  for (const seed of [1, 2, 3]) aucs.push(await run(model, seed));
  return { model: aucs, lr: await run("lr", 1) };
}

function check(name: string, r: { model: number[]; lr: number }): void {
  const mean = r.model.reduce((a, b) => a + b, 0) / r.model.length;
  console.log(`# ${name}: ${r.model.map((x) => x.toFixed(4)).join(", ")} (mean ${mean.toFixed(4)}), lr ${r.lr.toFixed(4)}`);
  assert.ok(mean >= r.lr - 0.01, `${name}: mean AUC ${mean.toFixed(4)} below lr ${r.lr.toFixed(4)} - 0.01`);
}

test("real samples: dcn (Criteo), mlp (Avazu), opnn (iPinYou) each beat lr or come within 0.01", { skip: !have && "shared data not present" }, async () => {
  const o = { batchSize: BATCH };
  const criteo = await openData(join(SHARED, "criteo/train.txt"), o);
  check("dcn on the Criteo sample", await compare("dcn", criteo, {}, [
    [await openData(join(SHARED, "criteo/test.txt"), o), {}], [await openData(join(SHARED, "criteo/dev.txt"), o), {}],
  ]));
  const avazu = await openData(join(SHARED, "avazu/sample.csv"), o);
  const split = await holdoutSplit(avazu, { lastFraction: 0.2 });
  assert.equal(split.test.end! - split.test.start!, 200);
  check("mlp on the Avazu sample", await compare("mlp", avazu, split.train, [[avazu, split.test]]));
  const featindex = join(SHARED, "ipinyou/featindex.fm.txt");
  const ipinyou = await openData(join(SHARED, "ipinyou/train.fm.txt"), { ...o, featindex });
  check("opnn on the iPinYou sample", await compare("opnn", ipinyou, {}, [[await openData(join(SHARED, "ipinyou/test.fm.txt"), { ...o, featindex }), {}]]));
});

test("real sample: default train (only --train, --test, --model dcn) on Criteo train.txt -> dev.txt + test.txt reaches AUC >= 0.712 with a feature rate < 1", { skip: !have && "shared data not present" }, async () => {
  const { spawnSync } = await import("node:child_process");
  const cli = new URL("../../src/cli/main.js", import.meta.url).pathname;
  const r = spawnSync(process.execPath, [cli, "train", "--train", join(SHARED, "criteo/train.txt"), "--test", join(SHARED, "criteo/dev.txt"),
    "--test", join(SHARED, "criteo/test.txt"), "--model", "dcn", "--json"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const rep = JSON.parse(r.stdout.trim().split("\n").pop()!);
  console.log(`# default dcn on the Criteo sample: AUC ${rep.auc.toFixed(4)}, log loss ${rep.logloss.toFixed(4)}, feature rate ${rep.featureRate.toFixed(4)} (${rep.liveFeatures} of ${rep.features}), best pass ${rep.bestEpoch} of ${rep.epochs}`);
  assert.equal(rep.testRows, 800);
  assert.ok(rep.auc >= 0.712, `AUC ${rep.auc}`);
  assert.ok(rep.featureRate < 1 && rep.liveFeatures < rep.admittedFeatures, `feature rate ${rep.featureRate}: the default model is sparse`);
});
