// Memory budgets: with --max-features below the data's feature count a run
// either stops before exceeding it, with an error stating the estimate, or
// evicts rows (zero rows first) and finishes within it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openData } from "../../src/index.js";
import { createGenerator, generateFiles, synthConfig } from "../../src/data/synth/index.js";
import { buildModel } from "../../src/train/model.js";
import { trainModel, type TrainControl } from "../../src/train/trainer.js";
import { evaluateModel } from "../../src/train/evaluate.js";
import { MemoryBudgetError } from "../../src/train/budget.js";

const dir = mkdtempSync(join(tmpdir(), "sparsectr-budget-"));
const data = join(dir, "train.txt");
await generateFiles(createGenerator(synthConfig({ preset: "criteo", seed: 6, scale: 0.01 })), { format: "criteo", start: 0, rows: 40_000, out: data, truth: null });
test.after(() => rmSync(dir, { recursive: true, force: true }));

async function run(control: TrainControl) {
  const f = await openData(data, { batchSize: 256 });
  const m = buildModel(f.fields.length, { model: "dcn", optimizer: "group-adam", hyper: { l21: 1e-3 }, seed: 2 });
  let peak = 0;
  const r = await trainModel(m, f, { end: 32_000 }, () => { peak = Math.max(peak, m.tables[0].size); }, control);
  const e = await evaluateModel(m, f, { start: 32_000 });
  return { m, r, e, peak };
}

test("--max-features: stop before the budget with the estimate, or evict zero rows first and finish within it", async () => {
  const free = await run({});
  const features = free.m.features;
  assert.ok(features > 20_000, `features ${features}`);
  const max = Math.floor(features / 2);
  await assert.rejects(run({ maxFeatures: max }), (e: unknown) => {
    assert.ok(e instanceof MemoryBudgetError, String(e));
    assert.ok(e.features > max && e.maxFeatures === max);
    assert.match(e.message, /would hold \d+ features after \d+ training rows, over the budget of \d+ \(about \d+ bytes each: [\d.]+ MiB needed/);
    return true;
  });
  const evictions: { evicted: number; zeroEvicted: number }[] = [];
  const ev = await run({ maxFeatures: max, onFull: "evict", onEvict: (e) => evictions.push(e) });
  assert.ok(evictions.length > 0);
  assert.ok(ev.peak <= max, `peak ${ev.peak} > ${max}`);
  // Group lasso zeroes most rows: the first evictions take zero rows only.
  assert.equal(evictions[0].zeroEvicted, evictions[0].evicted);
  assert.ok(ev.e.auc > free.e.auc - 0.01, `AUC ${ev.e.auc} with eviction, ${free.e.auc} without`);
  console.log(`# ${features} features; budget ${max}: ${evictions.length} evictions, AUC ${ev.e.auc.toFixed(4)} vs ${free.e.auc.toFixed(4)}`);
});

test("sparsectr train --max-memory: budget from the bytes per feature, reported in --json", () => {
  const cli = new URL("../../src/cli/main.js", import.meta.url).pathname;
  // Every feature gets a row (--min-count 1), so that the table outgrows the budget.
  const base = [cli, "train", "--train", data, "--holdout-rows", "8000", "--batch", "256", "--json", "--l21", "1e-3", "--min-count", "1"];
  const ok = spawnSync(process.execPath, [...base, "--max-memory", "8M", "--evict"], { encoding: "utf8" });
  assert.equal(ok.status, 0, ok.stderr);
  const rep = JSON.parse(ok.stdout.trim().split("\n").pop()!) as Record<string, number>;
  assert.ok(rep.maxFeatures > 1000 && rep.maxFeatures < 8 * 2 ** 20 / 100, `maxFeatures ${rep.maxFeatures}`);
  assert.ok(rep.tableRows <= rep.maxFeatures && rep.evictions > 0 && rep.bytesPerFeature > 0 && rep.memoryBytes > 0);
  const stop = spawnSync(process.execPath, [...base, "--max-memory", "8M"], { encoding: "utf8" });
  assert.equal(stop.status, 1);
  assert.match(stop.stderr, /over the budget of \d+ .*--evict/);
  const bad = spawnSync(process.execPath, [...base, "--max-memory", "lots"], { encoding: "utf8" });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--max-memory lots/);
});
