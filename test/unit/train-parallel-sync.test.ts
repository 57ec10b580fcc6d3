// The data-parallel trainer's exchange hook (TrainControl.sync, as a cluster
// run's worker uses it: src/cluster/train.ts): the workers park for it every
// everyRows rows, or sooner when `due` asks, and once at the end; what the
// hook changes in the model (the dense layers' weights, the tables' step
// count) is what the workers train on from there, and the admission counts
// are the workers' once the hook asks for them (`whole`).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openData } from "../../src/data/index.js";
import { createGenerator, generateFiles, synthConfig } from "../../src/data/synth/index.js";
import { configureLayers } from "../../src/kernels/layers/index.js";
import { buildModel, type TrainSettings } from "../../src/train/model.js";
import { trainParallel } from "../../src/train/parallel.js";
import type { TrainPosition } from "../../src/train/trainer.js";
import type { SparseTable } from "../../src/optim/table.js";

const dir = mkdtempSync(join(tmpdir(), "sparsectr-parallel-sync-"));
const train = join(dir, "train.txt");
await generateFiles(createGenerator(synthConfig({ preset: "criteo", seed: 5, scale: 0.05 })), { format: "criteo", start: 0, rows: 40_000, out: train, truth: null });
test.after(() => rmSync(dir, { recursive: true, force: true }));
configureLayers({ threads: 1 });

const SETTINGS: TrainSettings = { model: "dcn", optimizer: "group-adam", hyper: { lr: 0.002, l21: 0.25 / 512 }, batch: 512, epochs: 1, seed: 3, minCount: 2 };
const PLANTED = 0.5;

for (const dense of ["sequential", "sync", "async"] as const) {
  test(`control.sync (${dense} dense updates): the workers park for it every everyRows rows and at the end, and train on from the dense weights and step count it leaves`, async () => {
    const file = await openData(train, { batchSize: 512 });
    const m = buildModel(file.fields.length, SETTINGS);
    const calls: { rows: number; parts?: number[]; far: number; steps: number }[] = [];
    let planted = -1;
    const run = (pos: TrainPosition): Promise<void> => {
      // How far the weights are from the planted value (after the first call: a few Adam steps of lr 0.002 at most).
      let far = 0;
      for (const d of m.dense) for (const w of d.view()) far = Math.max(far, Math.abs(w - PLANTED));
      calls.push({ rows: pos.rows, parts: pos.parts, far, steps: m.tables[0].stepCount });
      if (planted < 0) {
        // Another process's state, as a merge brings it: every dense weight, and a later global step.
        m.dense.forEach((d, i) => { d.view().fill(PLANTED); m.params[i].value.set(d.view()); });
        planted = m.tables[0].stepCount + 100_000;
        (m.tables[0] as SparseTable).adoptStepCount(planted);
      }
      return Promise.resolve();
    };
    const r = await trainParallel(m, file, { start: 0, end: 40_000 }, 2, undefined, { sync: { everyRows: 8192, run } }, { denseUpdates: dense });
    assert.equal(r.position.rows, 40_000);
    assert.ok(calls.length >= 3 && calls.length <= 5, `${calls.length} calls: ${calls.map((c) => c.rows).join(", ")}`);
    for (let k = 1; k < calls.length; k++) assert.ok(calls[k].rows - calls[k - 1].rows >= 8192 || k === calls.length - 1, `call ${k} at ${calls[k].rows} rows, the one before at ${calls[k - 1].rows}`);
    assert.ok(calls[0].rows >= 8192 && calls[0].parts?.length === 2, `the first call at ${calls[0].rows} rows, with each worker's position`);
    assert.equal(calls[calls.length - 1].rows, 40_000, "the last call at the end");
    assert.ok(calls[0].far > 0.3, `before the first call the weights are the model's own (${calls[0].far} from ${PLANTED})`);
    // The workers took the planted weights: after about 16 steps of 0.002 every weight is still near them.
    for (const c of calls.slice(1, -1)) assert.ok(c.far < 0.15, `at ${c.rows} rows the weights are ${c.far} from the planted ${PLANTED}`);
    // And the tables' step count continued from the one the hook set.
    assert.ok(calls[1].steps > planted, `step count ${calls[1].steps} after the hook set ${planted}`);
  });
}

test("control.sync: due(rows) parks the workers before everyRows; whole() gives the model the workers' admission counts", async () => {
  const file = await openData(train, { batchSize: 512 });
  const m = buildModel(file.fields.length, SETTINGS);
  const seen: { rows: number; counted: number; after: number }[] = [];
  const run = (pos: TrainPosition, whole?: () => void): Promise<void> => {
    const counted = m.admission!.seen;
    whole?.();
    seen.push({ rows: pos.rows, counted, after: m.admission!.seen });
    return Promise.resolve();
  };
  // Asked for until called (polled by the coordinator, and again at the pause).
  const due = (rows: number): boolean => rows >= 3000 && seen.length === 0;
  await trainParallel(m, file, { start: 0, end: 40_000 }, 2, undefined, { sync: { everyRows: 1e9, run, due } }, { denseUpdates: "sequential" });
  assert.equal(seen.length, 2, `one call asked for and one at the end: ${seen.map((s) => s.rows).join(", ")}`);
  assert.ok(seen[0].rows >= 3000 && seen[0].rows < 40_000, `called at ${seen[0].rows} rows`);
  assert.equal(seen[0].counted, 0, "before whole() the model's counts are those it started with");
  assert.ok(seen[0].after > 1000, `after whole() the workers' counts (${seen[0].after} features)`);
});
