// Export and serving: the model file holds only live rows, scores equal the
// trained model's, a damaged file is refused; the command line end to end.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { openData } from "../../src/index.js";
import { buildModel } from "../../src/train/model.js";
import { trainModel } from "../../src/train/trainer.js";
import { encodeModel, Predictor } from "../../src/serve/model-file.js";
import { haveShared, SHARED } from "../helpers/shared.js";

const have = haveShared("criteo/train.txt");
const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

test("export/predict round trip: identical scores, only live rows stored, damage refused", { skip: !have && "shared data not present" }, async () => {
  const train = await openData(join(SHARED, "criteo/train.txt"), { batchSize: 512 });
  const testFile = await openData(join(SHARED, "criteo/dev.txt"), { batchSize: 100 });
  for (const model of ["dcn", "deepfm"] as const) {
    const m = buildModel(train.fields.length, { model, optimizer: "group-adam", hyper: { l21: 5e-4 }, seed: 3, modelConfig: model === "deepfm" ? { hidden: [32, 16] } : undefined });
    await trainModel(m, train);
    const bytes = encodeModel(m, { format: train.format, fields: train.fields });
    const p = Predictor.decode(bytes);
    assert.equal(p.features, m.liveFeatures);
    // A feature is live while any of its rows (first-order weight, embedding) is.
    const brute = Array.from(m.tables[0].ids()).filter((id) => m.tables.some((t) => !t.get(id)!.every((v) => v === 0))).length;
    assert.equal(m.liveFeatures, brute, `${model}: live features`);
    assert.ok(m.liveFeatures < m.features);
    let rows = 0;
    for await (const b of testFile.batches()) {
      const a = m.predict(b), c = p.predict(b);
      for (let i = 0; i < b.rows; i++) assert.ok(Math.abs(a[i] - c[i]) <= 1e-6, `${model} row ${rows + i}: ${a[i]} vs ${c[i]}`);
      rows += b.rows;
    }
    assert.equal(rows, 409);
    const flipped = bytes.slice();
    flipped[Math.floor(bytes.length / 2)] ^= 0x10;
    assert.throws(() => Predictor.decode(flipped), /checksum mismatch/);
    assert.throws(() => Predictor.decode(bytes.subarray(0, bytes.length - 100)), /checksum mismatch|does not fit/);
  }
});

test("command line: train --out, eval and predict agree with the training report; export reproduces the file", { skip: !have && "shared data not present" }, () => {
  const dir = mkdtempSync(join(tmpdir(), "sparsectr-serve-"));
  const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8" });
  try {
    const out = join(dir, "run");
    const t = run("train", "--train", join(SHARED, "criteo/train.txt"), "--test", join(SHARED, "criteo/test.txt"), "--model", "lr", "--optimizer", "ftrl", "--lr", "0.05", "--l1", "0.5", "--out", out, "--json", "--seed", "2");
    assert.equal(t.status, 0, t.stderr);
    const rep = JSON.parse(t.stdout.trim().split("\n").pop()!);
    for (const k of ["auc", "logloss", "featureRate", "features", "liveFeatures", "rows", "rowsPerSec", "modelBytes", "modelSha256"]) assert.ok(k in rep, k);
    const e = run("eval", "--model", join(out, "model.sparsectr"), "--data", join(SHARED, "criteo/test.txt"), "--json");
    assert.equal(e.status, 0, e.stderr);
    const ev = JSON.parse(e.stdout);
    assert.equal(ev.auc, rep.auc);
    assert.equal(ev.features, rep.liveFeatures);
    const scores = join(dir, "s.txt");
    assert.equal(run("predict", "--model", join(out, "model.sparsectr"), "--data", join(SHARED, "criteo/test.txt"), "--out", scores).status, 0);
    assert.equal(readFileSync(scores, "utf8").trim().split("\n").length, 391);
    const re = join(dir, "re.sparsectr");
    assert.equal(run("export", "--from", out, "--out", re).status, 0);
    assert.deepEqual(readFileSync(re), readFileSync(join(out, "model.sparsectr")));
    const bad = join(dir, "bad.sparsectr");
    const b = readFileSync(re);
    b[200] ^= 1;
    writeFileSync(bad, b);
    const r = run("eval", "--model", bad, "--data", join(SHARED, "criteo/test.txt"));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /checksum mismatch/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
