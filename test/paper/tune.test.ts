// `sparsectr tune`: the search meets its budget within 10% (relative) in few
// runs, for a feature-rate and for a model-size budget, and the
// feature-selection report is consistent: per-field counts add up to the
// table, precision and recall agree with the truth recomputed here.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { prepareGenerated, type DatasetSpec } from "../../src/experiments/data.js";
import { indexFeatures } from "../../src/experiments/features.js";
import { tune, type TuneResult } from "../../src/experiments/tune.js";
import { isInformative, type TruthJson } from "../../src/data/synth/index.js";

const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "sparsectr-tune-test-"));
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));

let ds: DatasetSpec;
async function data(): Promise<DatasetSpec> {
  ds ??= await prepareGenerated("criteo", join(dir, "data"), { scale: 0.05 });
  return ds;
}

test("tune --target-feature-rate 0.05: within 10% under the target, best validation AUC of the runs in the band", async () => {
  const d = await data();
  const r = await tune({ dataset: d, budget: { featureRate: 0.05 }, modelConfig: { hidden: [16] }, seed: 2, maxRuns: 10 });
  assert.equal(r.maxLive, Math.floor(0.05 * r.chosen.features));
  assert.ok(r.withinTolerance, JSON.stringify(r.runs));
  assert.ok(r.chosen.featureRate <= 0.05 && r.chosen.featureRate >= 0.05 * 0.9 - 1 / r.chosen.features, `rate ${r.chosen.featureRate}`);
  assert.ok(r.runs.length <= 8, `${r.runs.length} runs`);
  const band = r.runs.filter((x) => x.inBand);
  assert.equal(r.chosen.valAuc, Math.max(...band.map((x) => x.valAuc)));
  // The sparsity curve the search walked is monotone in l21 (up to training noise at equal l21).
  const sorted = [...r.runs].sort((a, b) => a.l21 - b.l21);
  for (let i = 1; i < sorted.length; i++) assert.ok(sorted[i].liveFeatures <= sorted[i - 1].liveFeatures * 1.05, JSON.stringify(sorted));
  // Magnitude pruning at the same feature count.
  assert.equal(r.pruning!.liveFeatures, r.chosen.liveFeatures);
  checkSelection(r, d);
});

function checkSelection(r: TuneResult, d: DatasetSpec): void {
  const s = r.selection!;
  assert.equal(s.conflicts, 0);
  assert.equal(s.fields.length, 39);
  assert.equal(s.fields.reduce((n, f) => n + f.values, 0), r.chosen.features);
  for (const m of s.methods) assert.equal(m.live, r.chosen.liveFeatures, m.method);
  // Informative fields per the truth file, read here.
  const truth = JSON.parse(readFileSync(d.truth!, "utf8")) as TruthJson;
  const infFields = new Set(truth.informativeFields);
  for (const f of s.fields) assert.equal(f.informativeField, infFields.has(f.field), f.field);
  for (const m of s.methods) {
    const liveInf = s.fields.reduce((n, f) => n + (f.liveInformative[m.method] ?? 0), 0);
    assert.ok(Math.abs(m.precision! - liveInf / m.live) < 1e-12);
    assert.ok(Math.abs(m.recall! - liveInf / s.informativePresent!) < 1e-12);
    assert.ok(m.precision! > 0 && m.precision! <= 1 && m.recall! > 0 && m.recall! <= 1, JSON.stringify(m));
    // Noise fields hold no informative value.
    for (const f of s.fields) if (!f.informativeField) assert.equal(f.liveInformative[m.method], 0);
  }
}

test("feature labels agree with isInformative on the values as written in the file", async () => {
  const d = await data();
  const idx = await indexFeatures(d);
  const truth = JSON.parse(readFileSync(d.truth!, "utf8")) as TruthJson;
  // Read the first rows' text and label each (field, value) with the truth's own function.
  const lines = readFileSync(d.train.path, "utf8").split("\n").slice(0, 300);
  const { featureKey } = await import("../../src/data/index.js");
  const { criteoBucket } = await import("../../src/data/index.js");
  let informative = 0, checked = 0;
  for (const line of lines) {
    const cols = line.split("\t").slice(1);
    cols.forEach((v, f) => {
      const name = idx.fields[f];
      const key = featureKey(f, f < 13 && v !== "" ? String(criteoBucket(Number(v))) : v);
      assert.equal(idx.fieldOf.get(key), f);
      const inf = isInformative(truth, name, v);
      assert.equal(idx.informative!.has(key), inf, `${name}=${v}`);
      informative += +inf;
      checked++;
    });
  }
  assert.ok(checked > 10000 && informative > 1000, `${checked} ${informative}`);
});

test("tune --max-model-bytes (command line): the chosen model fits, within 10%", () => {
  const out = join(dir, "cli");
  const r = spawnSync(process.execPath, [CLI, "tune", "--max-model-bytes", "120000", "--scale", "0.02", "--out", out, "--no-pruning", "--json", "--model", "mlp", "--dataset", "avazu"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const res = JSON.parse(r.stdout.trim()) as TuneResult;
  assert.ok(res.chosen.modelBytes <= 120000, `${res.chosen.modelBytes} bytes`);
  assert.ok(res.withinTolerance);
  // 10% of the budget's embedding part: live rows within [0.9, 1] of the largest count that fits.
  assert.ok(res.chosen.liveFeatures >= 0.9 * res.maxLive && res.chosen.liveFeatures <= res.maxLive);
  assert.match(readFileSync(join(out, "tune.md"), "utf8"), /Feature selection per field/);
  const bad = spawnSync(process.execPath, [CLI, "tune", "--scale", "0.02"], { encoding: "utf8" });
  assert.equal(bad.status, 2);
});
