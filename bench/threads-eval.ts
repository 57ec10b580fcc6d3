// `npm run bench -- threads-eval`: evaluations of a data-parallel run. dcn
// on 1M generated Criteo-shaped rows (--quick 200k), the last 10% of them
// validating (entered at a seek point), trained by 2 workers (sequential
// dense updates) with an evaluation every quarter of the training rows; at
// each, the validation rows are scored by the parked workers (the trainer's
// scorer, train/parallel-score.ts) and by evaluateModel on the calling
// thread (two layer threads, as the CLI's), one after the other, each
// holding the rows it read at the first evaluation (data/held.ts, as the
// workers and the CLI do): the
// milliseconds of each, and whether their AUC and log loss are the same.
// One line per evaluation and a summary (the medians). Then scoring threads
// after the run, with the trained model (scoringThreads below), started per
// scoring and from a pool (pooledThreads).
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { HELD_ROWS_BYTES, heldRows, holdoutSplit, openData, seekPoints } from "../src/data/index.js";
import { createGenerator, generateFiles, synthConfig } from "../src/data/synth/index.js";
import { configureLayers, layersReady } from "../src/kernels/layers/index.js";
import { buildModel, type CtrModel } from "../src/train/model.js";
import { evaluateThreads, POOL_START_ROWS, START_ROWS } from "../src/train/score-threads.js";
import { WorkerPool } from "../src/train/parallel-pool.js";
import type { DataFile } from "../src/data/types.js";
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
    const heldVal = heldRows(val, HELD_ROWS_BYTES), workersMs: number[] = [], threadMs: number[] = [];
    const evaluate = async (pos: TrainPosition, score?: Scorer): Promise<boolean> => {
      if (score === undefined) throw new Error("the data-parallel trainer gave no scorer");
      let t = performance.now();
      const a = await score(heldVal, range);
      const ta = performance.now() - t;
      t = performance.now();
      const b = await evaluateModel(m, heldVal, range);
      const tb = performance.now() - t;
      workersMs.push(ta);
      threadMs.push(tb);
      emit({ ...base, kind: "evaluation", rows_trained: pos.rows, workers_ms: +ta.toFixed(1), this_thread_ms: +tb.toFixed(1), same: a.auc === b.auc && a.logloss === b.logloss && a.rows === b.rows, auc: +a.auc.toFixed(5) });
      return false;
    };
    await trainParallel(m, file, { start: 0, end: trainRows }, WORKERS, undefined, { evaluate, evaluateEveryRows: Math.ceil(trainRows / 4) }, { denseUpdates: "sequential" });
    emit({ ...base, kind: "summary", evaluations: workersMs.length, workers_ms_median: +median(workersMs).toFixed(1), this_thread_ms_median: +median(threadMs).toFixed(1), speedup: +(median(threadMs) / median(workersMs)).toFixed(3) });
    await scoringThreads(emit, base, m, val, rows);
    await pooledThreads(emit, base, m, val);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Scoring threads after a run (train/score-threads.ts), with the trained
 * model: the time a scoring thread takes to start (every core's thread
 * scoring 512 rows, median of 5), this thread's rows/s (evaluateModel, two
 * layer threads as the CLI's), and evaluateThreads on every core against
 * evaluateModel for growing row counts, with whether their figures are the
 * same. rows_while_threads_start is the start time times this thread's
 * rate; START_ROWS is set from the break-even of the rows' lines (a thread
 * also scores slower than this thread with its two layer threads).
 */
async function scoringThreads(emit: (o: object) => void, base: object, m: CtrModel, val: DataFile, rows: number): Promise<void> {
  const threads = Math.max(2, availableParallelism());
  const starts: number[] = [];
  for (let k = 0; k < 5; k++) {
    const t = performance.now();
    const r = await evaluateThreads(m, val, { start: 0, end: 512 * threads }, threads, { startRows: 0 });
    if (r.threads !== threads) throw new Error(`${r.threads} scoring threads, not ${threads}`);
    starts.push(performance.now() - t);
  }
  const start = median(starts);
  let rate = 0;
  for (const n of [100_000, 200_000, 400_000, rows]) {
    const range = { start: 0, end: n };
    let t = performance.now();
    const one = await evaluateModel(m, val, range);
    const oneMs = performance.now() - t;
    t = performance.now();
    const many = await evaluateThreads(m, val, range, threads, { startRows: 0 });
    const manyMs = performance.now() - t;
    rate = n / (oneMs / 1000);
    emit({ ...base, kind: "scoring-threads", scored_rows: n, threads, this_thread_ms: +oneMs.toFixed(1), threads_ms: +manyMs.toFixed(1), speedup: +(oneMs / manyMs).toFixed(3), same: one.auc === many.auc && one.logloss === many.logloss && one.rows === many.rows });
  }
  emit({ ...base, kind: "scoring-threads-summary", threads, thread_start_ms: +start.toFixed(1), this_thread_rows_per_sec: Math.round(rate), rows_while_threads_start: Math.round((rate * start) / 1000), start_rows_setting: START_ROWS });
}

/**
 * Threads of a pool, started already (the CLI's after a data-parallel run):
 * each scoring's fixed cost (every thread scoring 512 rows, median of 5),
 * and evaluateThreads on them against evaluateModel for small row counts,
 * medians of 5, with whether their figures are the same.
 * rows_during_call is the fixed cost times this thread's rate;
 * POOL_START_ROWS is set from it and from the break-even of the lines.
 */
async function pooledThreads(emit: (o: object) => void, base: object, m: CtrModel, val: DataFile): Promise<void> {
  const threads = Math.max(2, availableParallelism()), pool = new WorkerPool(threads);
  try {
    const opts = { pool, startRows: 0 };
    await evaluateThreads(m, val, { start: 0, end: 512 * threads }, threads, opts);
    const time = async (f: () => Promise<unknown>): Promise<number> => {
      const ms: number[] = [];
      for (let k = 0; k < 5; k++) {
        const t = performance.now();
        await f();
        ms.push(performance.now() - t);
      }
      return median(ms);
    };
    const call = await time(() => evaluateThreads(m, val, { start: 0, end: 512 * threads }, threads, opts));
    let rate = 0;
    for (const n of [5_000, 10_000, 25_000, 50_000, 100_000]) {
      const range = { start: 0, end: n };
      const one = await evaluateModel(m, val, range), many = await evaluateThreads(m, val, range, threads, opts);
      if (many.threads !== threads) throw new Error(`${many.threads} pooled threads scored, not ${threads}`);
      const oneMs = await time(() => evaluateModel(m, val, range)), manyMs = await time(() => evaluateThreads(m, val, range, threads, opts));
      rate = n / (oneMs / 1000);
      emit({ ...base, kind: "pooled-threads", scored_rows: n, threads, this_thread_ms: +oneMs.toFixed(1), pooled_ms: +manyMs.toFixed(1), speedup: +(oneMs / manyMs).toFixed(3), same: one.auc === many.auc && one.logloss === many.logloss && one.rows === many.rows });
    }
    emit({ ...base, kind: "pooled-threads-summary", threads, call_ms: +call.toFixed(1), this_thread_rows_per_sec: Math.round(rate), rows_during_call: Math.round((rate * call) / 1000), pool_start_rows_setting: POOL_START_ROWS });
  } finally {
    await pool.close();
  }
}

/** The median of a list. */
function median(x: number[]): number {
  const s = [...x].sort((p, q) => p - q);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}
