// On a large file the defaults train one streaming pass (with validation rows,
// which then train last, admission and group lasso) and keep the AUC of the
// one-pass run without them: 1M generated Criteo rows, default `train` within 0.001 AUC of
// `--val-fraction 0 --min-count 1 --sparsity 0` (the behaviour before
// validation-driven training, bit for bit), with a sparse model. The wall
// times are printed; `npm run bench -- real` compares them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createGenerator, generateFiles, synthConfig } from "../../src/data/synth/index.js";

const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

test("1M generated rows: default train within 0.001 AUC of the one-pass run, feature rate < 0.5", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sparsectr-large-"));
  try {
    const g = createGenerator(synthConfig({ preset: "criteo", seed: 3, scale: 0.05 }));
    const train = join(dir, "train.txt"), testPath = join(dir, "test.txt");
    await generateFiles(g, { format: "criteo", start: 0, rows: 1_000_000, out: train, truth: null });
    await generateFiles(g, { format: "criteo", start: 1_000_000, rows: 50_000, out: testPath, truth: null });
    const run = (...extra: string[]): Record<string, number> & { curve: unknown[] } => {
      const t0 = Date.now();
      const r = spawnSync(process.execPath, [CLI, "train", "--train", train, "--test", testPath, "--json", ...extra], { encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
      return { ...JSON.parse(r.stdout.trim().split("\n").pop()!), wall: (Date.now() - t0) / 1000 };
    };
    const onePass = run("--val-fraction", "0", "--min-count", "1", "--sparsity", "0");
    const def = run();
    console.log(`# one pass: AUC ${onePass.auc.toFixed(5)} in ${onePass.wall.toFixed(1)} s; default: AUC ${def.auc.toFixed(5)}, feature rate ${def.featureRate.toFixed(4)}, ${def.curve.length} evaluations, in ${def.wall.toFixed(1)} s`);
    assert.equal(onePass.rows, 1_000_000);
    assert.equal(def.rows, 1_000_000, "every row trains: the validation rows last");
    assert.equal(def.refitRows, 100_000);
    assert.equal(def.epochs, 1, "one pass");
    assert.equal(def.curve.length, 4, "evaluated four times in the pass");
    assert.ok(def.auc >= onePass.auc - 0.001, `default AUC ${def.auc} vs one pass ${onePass.auc}`);
    assert.ok(def.featureRate < 0.5, `feature rate ${def.featureRate}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
