// Evaluations in the data-parallel workers (src/train/parallel-score.ts):
// at each evaluation of a run the scorer the trainer gives (each parked
// worker scoring its share of the validation rows with the shared model)
// returns exactly evaluateModel's AUC, log loss and rows on this thread,
// and collectLogits' logits, with every way of updating the dense layers, an uneven split over three
// workers, admission's OOV rows and a calibration; the run goes on as
// before after each one. The model's admission counts at an evaluation are
// the workers' then, read before or after the scores.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { heldRows, openData } from "../../src/data/index.js";
import { createGenerator, generateFiles, synthConfig } from "../../src/data/synth/index.js";
import { configureLayers } from "../../src/kernels/layers/index.js";
import { buildModel, type TrainSettings } from "../../src/train/model.js";
import { trainParallel } from "../../src/train/parallel.js";
import { evaluateModel } from "../../src/train/evaluate.js";
import { collectLogits } from "../../src/train/calibration.js";
import { trainModel, type Scorer, type TrainPosition } from "../../src/train/trainer.js";
import { Admission } from "../../src/train/admission.js";
import { splitRows } from "../../src/train/parallel-plan.js";

const dir = mkdtempSync(join(tmpdir(), "sparsectr-parallel-score-"));
const train = join(dir, "train.txt");
await generateFiles(createGenerator(synthConfig({ preset: "criteo", seed: 4, scale: 0.02 })), { format: "criteo", start: 0, rows: 50_000, out: train, truth: null });
test.after(() => rmSync(dir, { recursive: true, force: true }));
configureLayers({ threads: 1 });

const SETTINGS: TrainSettings = { model: "dcn", optimizer: "group-adam", hyper: { lr: 0.002, l21: 0.25 / 256 }, batch: 256, epochs: 1, seed: 7, minCount: 2 };

test("the workers' scores of the validation rows give evaluateModel's figures exactly, at every evaluation, with every dense mode", async () => {
  const file = await openData(train, { batchSize: 256 });
  // The last 7,001 rows validate (an odd count: three workers' shares differ).
  const val = await openData(train, { batchSize: 4096 }), range = { start: 42_999, end: 50_000 };
  for (const [workers, dense] of [[2, "sequential"], [3, "sync"], [2, "async"]] as const) {
    const m = buildModel(file.fields.length, SETTINGS);
    m.calibration = { scale: 0.9, bias: 0.1 };
    let evaluations = 0;
    const evaluate = async (_pos: unknown, score?: Scorer): Promise<boolean> => {
      assert.ok(score, "the trainer gives a scorer");
      const { logits, ...got } = await score(val, range), want = await evaluateModel(m, val, range);
      assert.deepEqual(got, want, `${workers} workers, ${dense}: evaluation ${evaluations + 1}`);
      assert.equal(got.rows, 7_001);
      const zw = await collectLogits((b, o) => m.logits(b, o), val, range);
      assert.deepEqual([logits?.z, logits?.y, logits?.threads], [zw.z, zw.y, workers], `${workers} workers, ${dense}: logits of evaluation ${evaluations + 1}`);
      evaluations++;
      return false;
    };
    const r = await trainParallel(m, file, { start: 0, end: 42_999 }, workers, undefined, { evaluate, evaluateEveryRows: 12_000 }, { denseUpdates: dense });
    assert.equal(r.rows, 42_999, "every row trained after the evaluations");
    assert.ok(evaluations >= 4, `${workers} workers, ${dense}: ${evaluations} evaluations`);
    assert.ok(m.admission!.admitted < m.admission!.seen, "some features unadmitted: OOV rows were read");
  }
});

test("an evaluation's model holds the workers' admission counts as they are then (the counts of exactly the rows trained), read before the scores or after them (converted while the workers score); the run counts on from them to the deterministic trainer's counts", async () => {
  const file = await openData(train, { batchSize: 256 });
  const val = await openData(train, { batchSize: 4096 }), range = { start: 42_999, end: 50_000 };
  const triples = (a: Admission): string[] => {
    const e = a.entries(), t: string[] = [];
    for (let k = 0; k < e.length; k += 3) t.push(`${e[k]}:${e[k + 1]}:${e[k + 2]}`);
    return t.sort();
  };
  /** Brute force: the counts of the rows of `ranges`, counted afresh. */
  const countsOf = async (ranges: { start: number; end: number }[]): Promise<Admission> => {
    const a = new Admission(SETTINGS.minCount!, file.fields.length), rows = await openData(train, { batchSize: 4096 });
    for (const r of ranges) {
      for await (const b of rows.batches(r)) a.route(b.keyWords, b.keys.length, new Uint32Array(2 * b.keys.length), undefined, true);
    }
    return a;
  };
  const ref = buildModel(file.fields.length, SETTINGS);
  await trainModel(ref, file, { start: 0, end: 42_999 });
  const parts = splitRows(0, 42_999, 2);
  for (const order of ["before", "after"] as const) {
    const m = buildModel(file.fields.length, SETTINGS);
    let evaluations = 0;
    const evaluate = async (pos: TrainPosition, score?: Scorer): Promise<boolean> => {
      const want = await countsOf(parts.map((p, w) => ({ start: p.start, end: pos.parts?.[w] ?? p.end })));
      const early = order === "before" ? triples(m.admission!) : undefined;
      await score!(val, range);
      const what = `${order}: evaluation ${evaluations + 1} at ${pos.parts?.join(", ") ?? "the end"}`;
      assert.deepEqual(early ?? triples(m.admission!), triples(want), what);
      assert.equal(m.features, want.seen, what);
      evaluations++;
      return false;
    };
    await trainParallel(m, file, { start: 0, end: 42_999 }, 2, undefined, { evaluate, evaluateEveryRows: 12_000 }, { denseUpdates: "sequential" });
    assert.ok(evaluations >= 4, `${order}: ${evaluations} evaluations`);
    assert.deepEqual(triples(m.admission!), triples(ref.admission!), `${order}: the pass's counts`);
    assert.equal(m.admission!.routed, ref.admission!.routed, `${order}: occurrences routed to OOV rows`);
  }
});

test("each worker holds its share of the validation rows after scoring it once (not read again) when the scored file holds its rows", async () => {
  // A copy of the file keeps the rows as they were; the validation rows' labels of the file itself are flipped after the first evaluation.
  const { copyFileSync, readFileSync, writeFileSync } = await import("node:fs");
  const range = { start: 42_999, end: 50_000 };
  for (const hold of [true, false]) {
    const path = join(dir, `held-${hold}.txt`), orig = join(dir, `orig-${hold}.txt`);
    copyFileSync(train, path);
    copyFileSync(train, orig);
    const file = await openData(path, { batchSize: 256 }), rows = await openData(path, { batchSize: 4096 });
    const val = hold ? heldRows(rows, 64 << 20) : rows;
    const kept = await openData(orig, { batchSize: 4096 });
    const m = buildModel(file.fields.length, SETTINGS);
    let evaluations = 0;
    const evaluate = async (_pos: unknown, score?: Scorer): Promise<boolean> => {
      const { logits: _l, ...got } = await score!(val, range);
      if (evaluations === 0) {
        const lines = readFileSync(path, "utf8").split("\n");
        for (let i = range.start; i < range.end; i++) lines[i] = (lines[i][0] === "1" ? "0" : "1") + lines[i].slice(1);
        writeFileSync(path, lines.join("\n"));
      } else {
        const asKept = await evaluateModel(m, kept, range), asNow = await evaluateModel(m, rows, range);
        assert.notDeepEqual(asKept, asNow, "the flipped labels change the figures");
        assert.deepEqual(got, hold ? asKept : asNow, `held ${hold}: evaluation ${evaluations + 1}`);
      }
      evaluations++;
      return false;
    };
    await trainParallel(m, file, { start: 0, end: 42_999 }, 2, undefined, { evaluate, evaluateEveryRows: 12_000 }, { denseUpdates: "sync" });
    assert.ok(evaluations >= 3, `${evaluations} evaluations`);
  }
});
