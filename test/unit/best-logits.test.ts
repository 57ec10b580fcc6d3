// The best evaluation's logits (EarlyStopping.bestLogits), which the CLI's
// calibration fits instead of scoring the validation rows again: with
// either trainer and a best evaluation that is not the last (training went
// on from it, and restoreBest put it back), they are the logits of the
// model the run ends with, bit for bit; while the model holds another
// state there are none.
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
import { trainModel, type Scorer } from "../../src/train/trainer.js";
import { collectLogits } from "../../src/train/calibration.js";
import { EarlyStopping } from "../../src/train/validation.js";
import { evaluateThreads } from "../../src/train/score-threads.js";

const dir = mkdtempSync(join(tmpdir(), "sparsectr-best-logits-"));
const train = join(dir, "train.txt");
await generateFiles(createGenerator(synthConfig({ preset: "criteo", seed: 5, scale: 0.02 })), { format: "criteo", start: 0, rows: 30_000, out: train, truth: null });
test.after(() => rmSync(dir, { recursive: true, force: true }));
configureLayers({ threads: 1 });

const SETTINGS: TrainSettings = { model: "dcn", optimizer: "group-adam", hyper: { lr: 0.002, l21: 0.25 / 256 }, batch: 256, epochs: 1, seed: 3, minCount: 2 };

test("the best evaluation's logits are the final model's logits after restoreBest, and absent while training goes on from it", async () => {
  const val = await openData(train, { batchSize: 4096 }), range = { start: 24_000, end: 30_000 };
  for (const workers of [1, 2]) {
    const file = await openData(train, { batchSize: 256 });
    const m = buildModel(file.fields.length, SETTINGS);
    // The second evaluation is made the best: each other one scores 1 below its AUC (the first is the best until the second).
    let n = 0;
    const during: unknown[] = [];
    const worse = (score: Scorer): Scorer => async (f, r) => {
      during.push(stopper.bestLogits);
      const e = await score(f, r);
      return n++ === 1 ? e : { ...e, auc: e.auc - 1 };
    };
    const own: Scorer = (f, r) => evaluateThreads(m, f, r, 2, { logits: true, startRows: 0 });
    const stopper = new EarlyStopping(m, { file: val, range }, { monitor: "auc", patience: 100, score: worse(own) });
    const control = {
      evaluate: (pos: Parameters<typeof stopper.evaluate>[0], score?: Scorer) => stopper.evaluate(pos, score ? worse(score) : undefined),
      evaluateEveryRows: 6_000, beforeStep: stopper.beforeStep, finish: () => stopper.restoreBest(),
    };
    if (workers === 1) await trainModel(m, file, { start: 0, end: 24_000 }, undefined, control);
    else await trainParallel(m, file, { start: 0, end: 24_000 }, workers, undefined, control);
    assert.ok(n >= 3, `${workers} workers: ${n} evaluations`);
    assert.equal(stopper.best, stopper.curve[1], "the second evaluation is the best");
    // At the first evaluation there was no best yet; at the second and third, training had gone on from the best.
    assert.deepEqual(during.slice(0, 3), [undefined, undefined, undefined], `${workers} workers: no logits while the model held another state`);
    const kept = stopper.bestLogits, now = await collectLogits((b, o) => m.logits(b, o), val, range);
    assert.ok(kept !== undefined, `${workers} workers: the best evaluation's logits are kept`);
    assert.deepEqual([kept.z, kept.y], [now.z, now.y], `${workers} workers: the final model's logits`);
    assert.equal(kept.threads, 2);
  }
});
