// `npm run bench -- threads-eval`: evaluations of a data-parallel run. dcn
// on 1M generated Criteo-shaped rows (--quick 200k), the last 10% of them
// validating (entered at a seek point), trained by 2 workers (sequential
// dense updates) with an evaluation every quarter of the training rows; at
// each, the validation rows are scored by the parked workers (the trainer's
// scorer, train/parallel-score.ts) and by evaluateModel on the calling
// thread (two layer threads, as the CLI's), one after the other: the
// milliseconds of each, and whether their AUC and log loss are the same.
// One line per evaluation and a summary (the medians).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { holdoutSplit, openData, seekPoints } from "../src/data/index.js";
import { createGenerator, generateFiles, synthConfig } from "../src/data/synth/index.js";
import { configureLayers, layersReady } from "../src/kernels/layers/index.js";
import { buildModel } from "../src/train/model.js";
import { trainParallel } from "../src/train/parallel.js";
import { evaluateModel } from "../src/train/evaluate.js";
import { DEFAULT_SPARSITY } from "../src/train/schedule.js";
import type { Scorer, TrainPosition } from "../src/train/trainer.js";
import { commitOf, machine } from "./threads.js";

const WORKERS = 2;

export async function benchThreadsEval(emit: (o: object) => void, quick: boolean): Promise<void> {
  const rows = quick ? 200_000 : 1_000_000, trainRows = Math.round(rows * 0.9);
  const base = { bench: "threads-eval", model: "dcn", preset: "criteo", rows, validation_rows: rows - trainRows, workers: WORKERS, ...commitOf(), date: new Date().toISOString().slice(0, 10), machine: machine() };
  const dir = mkdtempSync(join(tmpdir(), "sparsectr-bench-eval-"));
  try {
    const path = join(dir, "criteo");
    await generateFiles(createGenerator(synthConfig({ preset: "criteo", seed: 1 })), { format: "criteo", start: 0, rows, out: path, truth: null });
    configureLayers({ threads: 2 });
    await layersReady();
    const file = await openData(path, { batchSize: 512 });
    await holdoutSplit(file, { lastRows: 1 });
    const val = await openData(path, { batchSize: 4096, seek: await seekPoints(file) }), range = { start: trainRows, end: rows };
    const m = buildModel(file.fields.length, { model: "dcn", optimizer: "group-adam", hyper: { l21: DEFAULT_SPARSITY / 512 }, seed: 1 });
    const workersMs: number[] = [], threadMs: number[] = [];
    const evaluate = async (pos: TrainPosition, score?: Scorer): Promise<boolean> => {
      if (score === undefined) throw new Error("the data-parallel trainer gave no scorer");
      let t = performance.now();
      const a = await score(val, range);
      const ta = performance.now() - t;
      t = performance.now();
      const b = await evaluateModel(m, val, range);
      const tb = performance.now() - t;
      workersMs.push(ta);
      threadMs.push(tb);
      emit({ ...base, kind: "evaluation", rows_trained: pos.rows, workers_ms: +ta.toFixed(1), this_thread_ms: +tb.toFixed(1), same: a.auc === b.auc && a.logloss === b.logloss && a.rows === b.rows, auc: +a.auc.toFixed(5) });
      return false;
    };
    await trainParallel(m, file, { start: 0, end: trainRows }, WORKERS, undefined, { evaluate, evaluateEveryRows: Math.ceil(trainRows / 4) }, { denseUpdates: "sequential" });
    const median = (x: number[]): number => { const s = [...x].sort((p, q) => p - q); return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
    emit({ ...base, kind: "summary", evaluations: workersMs.length, workers_ms_median: +median(workersMs).toFixed(1), this_thread_ms_median: +median(threadMs).toFixed(1), speedup: +(median(threadMs) / median(workersMs)).toFixed(3) });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
