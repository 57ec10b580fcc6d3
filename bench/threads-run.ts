/**
 * One configuration of `npm run bench -- threads`, run by bench/threads.ts in
 * a process of its own (so that its peak resident set is its own):
 * `node dist/bench/threads-run.js '<ThreadsCase as JSON>'`. Opens the
 * training file, counts its rows as the CLI does (holdoutSplit; for the
 * data-parallel trainer the count finds the seek points and copies a gzip
 * file inflated, unless `inflate` is false), builds the model, trains it
 * with the data-parallel trainer
 * (trainParallel, N worker threads) or the deterministic one (trainModel,
 * as the CLI runs it: threads 2 reads on a second thread through prefetched
 * and lets the layer kernels use two threads; threads 1 does all on this
 * one), evaluates it on the test file and prints one JSON object on stdout
 * (ThreadsResult), or `{"error": ...}` and exit code 1.
 */
import { configureLayers, layersReady } from "../src/kernels/layers/index.js";
import { holdoutSplit, openData, prefetched } from "../src/data/index.js";
import { tmpdir } from "node:os";
import { buildModel } from "../src/train/model.js";
import { trainModel, type TrainResult } from "../src/train/trainer.js";
import { trainParallel } from "../src/train/parallel.js";
import { DEFAULT_DENSE_UPDATES, type DenseUpdates, type DenseUpdatesOption } from "../src/train/parallel-protocol.js";
import { evaluateModel } from "../src/train/evaluate.js";
import type { ModelName } from "../src/models/index.js";
import type { Hyperparams, OptimizerName } from "../src/optim/hyper.js";

/** What the parent asks for. */
export interface ThreadsCase {
  model: ModelName;
  optimizer: OptimizerName;
  hyper: Hyperparams;
  train: string;
  test: string;
  /** libsvm feature dictionary of both files, when they are libsvm. */
  featindex?: string;
  /** Rows [0, rows) of the training file are trained on. */
  rows: number;
  trainer: "parallel" | "deterministic";
  /** Worker threads (parallel) or the CLI's --threads (deterministic: 1 or 2). */
  threads: number;
  /** The parallel trainer's dense updates (default DEFAULT_DENSE_UPDATES). */
  dense?: DenseUpdatesOption;
  /** The model's seed (default 1). */
  seed?: number;
  /** Fused multiply-adds in the layer kernels (configureLayers; default off). */
  fma?: boolean;
  /** Parallel workers over a gzip file: false inflates the stream in each worker instead of copying it inflated first (ParallelOptions.inflateDir; default true). */
  inflate?: boolean;
}

/** What the child prints. */
export interface ThreadsResult {
  rows: number;
  /** Around the training call alone. */
  train_seconds: number;
  /** The counting pass before training (the CLI's: data/split.ts), in e2e_seconds. */
  count_seconds: number;
  /** File on disk to trained model: layer kernels configured, file opened, rows counted, model built, trained. */
  e2e_seconds: number;
  /** The parallel trainer's dense updates (auto resolved). */
  dense_updates?: DenseUpdates;
  auc: number;
  logloss: number;
  test_rows: number;
  feature_rate: number;
  features: number;
  live_features: number;
  /** process.resourceUsage().maxRSS at the end (KiB). */
  max_rss_kib: number;
  /** User + system CPU time of the process, every thread (seconds). */
  cpu_seconds: number;
}

const secondsSince = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e9;

async function runCase(c: ThreadsCase): Promise<ThreadsResult> {
  const t0 = process.hrtime.bigint();
  // The parallel trainer's workers set their own layer kernels (one thread
  // each); this thread keeps one.
  configureLayers({ threads: c.trainer === "deterministic" ? c.threads : 1, fma: c.fma === true });
  await layersReady();
  const file = await openData(c.train, { batchSize: 512, featindex: c.featindex });
  const tCount = process.hrtime.bigint();
  await holdoutSplit(file, { lastRows: 1 }, c.trainer === "parallel" && c.inflate !== false ? tmpdir() : undefined);
  const countSeconds = secondsSince(tCount);
  const m = buildModel(file.fields.length, { model: c.model, optimizer: c.optimizer, hyper: c.hyper, seed: c.seed ?? 1 });
  const range = { start: 0, end: c.rows };
  const tTrain = process.hrtime.bigint();
  const r: TrainResult & { denseUpdates?: DenseUpdates } = c.trainer === "parallel"
    ? await trainParallel(m, file, range, c.threads, undefined, {}, { denseUpdates: c.dense ?? DEFAULT_DENSE_UPDATES, ...(c.inflate === false ? { inflateDir: false } : {}) })
    : await trainModel(m, c.threads > 1 ? prefetched(file) : file, range);
  const trainSeconds = secondsSince(tTrain), e2eSeconds = secondsSince(t0);
  const test = await openData(c.test, { batchSize: 4096, featindex: c.featindex });
  const e = await evaluateModel(m, test);
  const u = process.resourceUsage();
  return {
    rows: r.rows, train_seconds: trainSeconds, count_seconds: countSeconds, e2e_seconds: e2eSeconds, ...(r.denseUpdates ? { dense_updates: r.denseUpdates } : {}), auc: e.auc, logloss: e.logloss, test_rows: e.rows,
    feature_rate: m.featureRate, features: m.features, live_features: m.liveFeatures, max_rss_kib: u.maxRSS, cpu_seconds: (u.userCPUTime + u.systemCPUTime) / 1e6,
  };
}

let line: string, code = 0;
try {
  const arg = process.argv[2];
  if (arg === undefined) throw new Error("usage: node dist/bench/threads-run.js '<case as JSON>'");
  line = JSON.stringify(await runCase(JSON.parse(arg) as ThreadsCase));
} catch (e) {
  line = JSON.stringify({ error: e instanceof Error ? e.message : String(e), stack: e instanceof Error ? e.stack : undefined });
  code = 1;
}
// Helper threads (layer kernels, prefetch) may still be alive: exit once the line is out.
process.stdout.write(line + "\n", () => process.exit(code));
