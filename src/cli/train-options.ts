/**
 * The options of `sparsectr train` and their resolution, for a new run, into
 * the model's settings and a TrainRun (files, row plan, schedule, stopping,
 * checkpoints, budget): the values the run uses, stored in its checkpoint so
 * that `--resume` reads them back instead of parsing a command line again.
 */
import { availableParallelism, tmpdir } from "node:os";
import { openData, holdoutSplit, type DataError, type DataFile } from "../data/index.js";
import { isModelName, MODEL_NAMES, type ModelConfig } from "../models/index.js";
import { POOLINGS } from "../nn/bag.js";
import {
  isL21Norm, isOptimizerName, isRowStep, L21_NORMS, NUMERIC_HYPERPARAMS, OPTIMIZER_NAMES, ROW_STEPS, type Hyperparams, type NumericHyperparam, type OptimizerName,
} from "../optim/hyper.js";
import { buildModel, bytesPerFeature, CtrModel } from "../train/model.js";
import { hasCheckpoint, restoreModel } from "../train/checkpoint.js";
import { MONITORS } from "../train/validation.js";
import { DEFAULT_SPARSITY, defaultSchedule, unvalidatedSchedule, type Schedule } from "../train/schedule.js";
import type { RowPlan, TrainRun } from "../train/run.js";
import { rowBytes } from "../train/shuffle.js";
import { DEFAULT_DENSE_UPDATES, DENSE_UPDATES_OPTIONS, type DenseUpdatesOption } from "../train/parallel-protocol.js";
import { bytes, num, str, UsageError, type OptionSpec, type ParsedArgs } from "./args.js";
import { inputFiles, READ_OPTIONS, readOptionsOf, spoolInputs } from "./read-options.js";
import { CLUSTER_OPTIONS } from "./cluster-options.js";

/** The options of the numeric hyperparameters. */
const HYPER: readonly [string, NumericHyperparam][] = NUMERIC_HYPERPARAMS.map((k) => [k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`), k]);

/** The share of --max-memory (after the dense layers) that the admission counts may take. */
const ADMISSION_SHARE = 0.2;

/** Rows held in memory for shuffled passes at most (about 1 GiB of Criteo rows). */
const MAX_SHUFFLE_BYTES = 2 ** 30;

/** Options a resumed run may set anew; every other one comes from the checkpoint. */
export const RESUME_OPTIONS = new Set(["resume", "json", "threads", "deterministic", "parallel", "dense-updates", "cluster"]);

/** Options that set the model (its architecture, optimizer, hyperparameters, batch, seed, storage, admission, pooling): a run started --init-from another keeps that run's. */
const MODEL_OPTIONS = [
  "model", "embedding", "hidden", "dropout", "cross-layers", "optimizer", ...HYPER.map(([o]) => o), "sparsity", "l21-norm", "row-step",
  "dense", "min-count", "pooling", "batch", "seed", "shards",
];

export const TRAIN_OPTIONS: readonly OptionSpec[] = [
  { name: "train", type: "string", multiple: true, help: "training file (criteo, avazu, libsvm or csv; plain or gzip); repeat it, or give a quoted pattern such as 'day*.csv', for several files, read in order; - reads standard input, spooled to a file in --out DIR (kept there for --resume until the run completes) or else in the OS temporary folder (removed at exit)" },
  { name: "test", type: "string", multiple: true, help: "test file(s) in the same format; - reads standard input, spooled as for --train (one option may be -)" },
  { name: "holdout", type: "string", help: "test on the last fraction of the training rows (Criteo's 1/7: 0.142857)" },
  { name: "holdout-rows", type: "string", help: "test on the last N rows of the training rows" },
  { name: "holdout-last-day", type: "boolean", help: "Avazu: test on the last day of the training rows" },
  { name: "validation", type: "string", multiple: true, help: "validation file(s) to stop on (default: the last --val-fraction of the training rows); - reads standard input, spooled as for --train" },
  { name: "val-fraction", type: "string", help: "validation rows taken from the end of the training rows; 0: no validation, one pass", default: "0.1" },
  { name: "eval-every", type: "string", help: "training rows between evaluations within a pass", defaultHelp: "a quarter of a pass from 200k training rows, else once a pass" },
  { name: "monitor", type: "string", help: `metric that picks the best state: ${MONITORS.join(" or ")}`, default: "auc" },
  { name: "patience", type: "string", help: "evaluations without improvement before stopping", default: "2" },
  { name: "refit", type: "string", help: "on: after the run, train once more on the validation rows taken from the training files (the newest rows), once they have chosen the state and the calibration", defaultHelp: "on for one-pass schedules" },
  { name: "calibrate", type: "string", help: "on: fit Platt scaling (a scale and bias of the logits) on the validation rows at the end, which leaves AUC as it is and corrects over-confident probabilities; off: none", defaultHelp: "on with validation rows" },
  ...READ_OPTIONS,
  { name: "model", type: "string", help: `model: ${MODEL_NAMES.join(", ")}`, default: "dcn" },
  { name: "embedding", type: "string", help: "embedding size (default the model's preset)" },
  { name: "hidden", type: "string", help: "hidden layer sizes, comma-separated (default the preset's)" },
  { name: "dropout", type: "string", help: "dropout rate after hidden layers (default the preset's)" },
  { name: "cross-layers", type: "string", help: "DCN cross layers (default 2)" },
  { name: "optimizer", type: "string", help: `optimizer of the embeddings: ${OPTIMIZER_NAMES.join(", ")}`, default: "group-adam" },
  ...HYPER.map(([o]) => ({ name: o, type: "string" as const, help: o === "l21" ? "the paper's group lasso strength per step (instead of --sparsity)" : `hyperparameter ${o} (default the optimizer's)` })),
  { name: "sparsity", type: "string", help: "group lasso strength per training row, for the group-* optimizers: l21 = sparsity / batch, so that its effect does not change with the batch size", default: String(DEFAULT_SPARSITY) },
  { name: "l21-norm", type: "string", help: `the norm the l21 threshold is compared with: ${L21_NORMS.join(", ")}`, default: "raw" },
  { name: "row-step", type: "string", help: `${ROW_STEPS.join(" or ")} bias correction of lazy rows`, default: "global" },
  { name: "dense", type: "string", help: "dense layers: plain (the paper) or group (rows of units regularised too)", default: "plain" },
  { name: "min-count", type: "string", help: "sightings in the training rows before a feature gets its own row; rarer and unseen features use their field's OOV row", defaultHelp: "the schedule's" },
  { name: "pooling", type: "string", help: `how several features of one field (multi-valued fields, feature values) combine: ${POOLINGS.join(" or ")}`, default: "mean" },
  { name: "epochs", type: "string", help: "most passes over the training rows (validation stops sooner)", defaultHelp: "the schedule's: 20 under 200k training rows, else 1" },
  { name: "batch", type: "string", help: "rows per step", defaultHelp: "the schedule's, by the number of training rows" },
  { name: "shuffle", type: "string", help: "on: each pass visits the rows (held in memory) in a new order; off: file order", defaultHelp: "the schedule's: on under 200k training rows" },
  { name: "seed", type: "string", help: "seed of every random choice", default: "0" },
  { name: "shards", type: "string", help: "split each embedding table over this many WebAssembly memories (4 GiB each; the paper's Criteo table needs 2)", default: "1" },
  { name: "threads", type: "string", help: "threads that train: with more than 2 (or --parallel), that many workers each read their part of the rows and train one shared model (not bit-reproducible); else the deterministic trainer, which reads on a second thread and splits large matrix products between two. Not given: the cores (with --dense-updates sync, sequential or async, at most one worker per 1000 batches of the training rows: fewer rounds cost AUC)", defaultHelp: "the number of cores" },
  { name: "deterministic", type: "boolean", help: "the deterministic trainer whatever --threads: the same seed gives the same model bit for bit (at most 2 threads)" },
  { name: "parallel", type: "boolean", help: "data-parallel workers even with --threads 1 or 2" },
  { name: "dense-updates", type: "string", help: "data-parallel workers' dense layers: auto (sequential where each worker makes at least 1000 rounds of a batch, else split), sync (one step a round with the mean gradient of the workers' batches), sequential (one step a round per worker's batch, in worker order), async (each worker steps the shared weights as it goes) or split (one batch a round, each worker reading batch / N of its rows; the round takes the steps one worker takes with the whole batch: one dense step, and one step of each table row with its gradient added up over the workers' shares, so the AUC and feature rate stay one worker's with many workers); sequential and async steps are stale, so their momentum is compensated: beta1' = max(0, 1 - N (1 - beta1))", default: DEFAULT_DENSE_UPDATES },
  { name: "fma", type: "boolean", help: "fused multiply-adds in the matrix products (WebAssembly relaxed SIMD): faster, deterministic on one machine, but rounded differently from the default kernels" },
  { name: "out", type: "string", help: "folder for the trained model: model.sparsectr (for serving), the full training state and checkpoints (locked while a run uses it)" },
  { name: "checkpoint-every", type: "string", help: "with --out: a checkpoint every this many training rows" },
  { name: "checkpoint-secs", type: "string", help: "with --out: a checkpoint every this many seconds (0: only at the end)", default: "60" },
  { name: "resume", type: "string", help: "continue the run whose --out folder this is, from its last complete checkpoint (its options are recorded there); a cluster run's checkpoint (rank 0's) with --cluster: the store is restored and ranks 1 and up, started again with their commands, continue from their positions in it" },
  { name: "init-from", type: "string", help: "start from the trained state of a finished run's --out folder (tables with their optimizer state, dense layers, steps, admission counts) and train on new data, e.g. the next day's log: the model's settings are that run's" },
  { name: "max-features", type: "string", help: "at most this many features (embedding rows) per table" },
  { name: "max-memory", type: "string", help: "memory budget of the model state in bytes (suffixes K, M, G): sets --max-features from the bytes a feature costs; with admission (--min-count > 1) a fifth of it bounds the occurrence counts, whose keys not yet admitted are then forgotten when full" },
  { name: "evict", type: "boolean", help: "at the budget, evict rows (zeroed by group lasso first, then the least updated) instead of stopping with an error" },
  { name: "skip-nonfinite", type: "boolean", help: "skip and count batches whose loss or gradients are not finite instead of stopping" },
  { name: "json", type: "boolean", help: "no progress line; the last line is one JSON object" },
  ...CLUSTER_OPTIONS,
];

/** Most threads of a run. */
const MAX_THREADS = 256;

/**
 * The threads of a run and its trainer (--threads, --deterministic,
 * --parallel; not part of the run's record: a resumed run may change them).
 * Data-parallel workers by default when there are more than 2 threads: on 1
 * or 2 cores the deterministic trainer, so that runs there stay
 * reproducible (two workers are faster there for some models, by bench
 * threads: docs/threads.md, "Two trainers").
 */
export function threadsOf(a: ParsedArgs): { threads: number; parallel: boolean; denseUpdates: DenseUpdatesOption } {
  const threads = a.values.threads === undefined ? availableParallelism() : num(a, "threads", true);
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) throw new UsageError(`--threads ${threads}: use an integer from 1 to ${MAX_THREADS}`);
  if (a.values.deterministic === true && a.values.parallel === true) throw new UsageError("--deterministic and --parallel exclude each other");
  const denseUpdates = oneOf(a, "dense-updates", DENSE_UPDATES_OPTIONS)!;
  return { threads, parallel: parallelFor(a, threads), denseUpdates };
}

/** Whether `workers` threads train with the data-parallel trainer: with more than 2, or with --parallel (never with --deterministic). */
export function parallelFor(a: ParsedArgs, workers: number): boolean {
  return a.values.parallel === true || (workers > 2 && a.values.deterministic !== true);
}

/**
 * A new run from its command line: the options checked, one counting pass
 * over the training files to place the validation and test rows and size the
 * schedule, the untrained model, and the run's record. For data-parallel
 * workers (`parallel`), the pass copies gzip training files inflated to the
 * OS temporary folder (data/inflated.ts), where the workers enter their parts.
 */
export async function newRun(a: ParsedArgs, onSkip: (e: DataError) => void, parallel = false): Promise<{ run: TrainRun; model: CtrModel; out?: string }> {
  const { train: trainPaths, test: testPaths, validation: valPaths } = inputFiles(a, ["train", "test", "validation"]);
  if (!trainPaths.length) throw new UsageError("--train FILE is required");
  const model = str(a, "model")!;
  if (!isModelName(model)) throw new UsageError(`--model ${model}: use one of ${MODEL_NAMES.join(", ")}`);
  const optimizer = str(a, "optimizer")!;
  if (!isOptimizerName(optimizer)) throw new UsageError(`--optimizer ${optimizer}: use one of ${OPTIMIZER_NAMES.join(", ")}`);
  const dense = oneOf(a, "dense", ["plain", "group"] as const);
  const pooling = oneOf(a, "pooling", POOLINGS);
  const monitor = oneOf(a, "monitor", MONITORS);
  const seed = num(a, "seed", true);
  const holdouts = ["test", "holdout", "holdout-rows", "holdout-last-day"].filter((k) => a.values[k] !== undefined);
  if (holdouts.length > 1) throw new UsageError(`give one of --test, --holdout, --holdout-rows, --holdout-last-day (got ${holdouts.map((h) => "--" + h).join(", ")})`);
  const valFraction = num(a, "val-fraction");
  if (!(valFraction >= 0 && valFraction < 1)) throw new UsageError(`--val-fraction ${valFraction}: give a fraction in [0, 1)`);
  if (valPaths.length && a.values["val-fraction"] !== undefined) throw new UsageError("give --validation FILE or --val-fraction, not both");
  const modelConfig: Omit<ModelConfig, "fields" | "seed"> = {};
  if (a.values.embedding !== undefined) modelConfig.embedding = num(a, "embedding", true);
  if (a.values.dropout !== undefined) modelConfig.dropout = num(a, "dropout");
  if (a.values["cross-layers"] !== undefined) modelConfig.crossLayers = num(a, "cross-layers", true);
  const hidden = str(a, "hidden");
  if (hidden !== undefined) {
    const sizes = hidden.split(",").map((x) => Number(x));
    if (sizes.some((x) => !Number.isSafeInteger(x) || x < 1)) throw new UsageError(`--hidden ${hidden}: give positive integers separated by commas`);
    modelConfig.hidden = sizes;
  }
  const calibrate = oneOf(a, "calibrate", ["on", "off"] as const) ?? "on";
  const out = str(a, "out");
  const everyRows = a.values["checkpoint-every"] !== undefined ? num(a, "checkpoint-every", true) : undefined;
  const everySeconds = num(a, "checkpoint-secs");
  if (!(everySeconds >= 0)) throw new UsageError(`--checkpoint-secs ${everySeconds}: give a number of seconds >= 0`);
  if (!out && (a.values["checkpoint-every"] !== undefined || a.values["checkpoint-secs"] !== undefined)) throw new UsageError("checkpoints need --out DIR");
  const readOpts = readOptionsOf(a);
  if (out) refuseOtherRun(out);

  // Standard input ("-") is spooled to a file: the run reads it several times.
  await spoolInputs([trainPaths, testPaths, valPaths], out);
  // One counting pass places the validation and test rows and sizes the schedule.
  const probe = await openData(trainPaths, { ...readOpts, onSkip });
  const plan = await planRows(probe, a, valPaths.length ? 0 : valFraction, parallel ? tmpdir() : undefined);
  const validated = valPaths.length > 0 || plan.val !== undefined;
  const sched: Schedule = { ...(validated ? defaultSchedule(plan.rows) : unvalidatedSchedule(plan.rows)) };
  if (a.values.batch !== undefined) sched.batch = num(a, "batch", true);
  if (a.values.epochs !== undefined) sched.epochs = num(a, "epochs", true);
  if (a.values["min-count"] !== undefined) sched.minCount = num(a, "min-count", true);
  if (a.values["eval-every"] !== undefined) sched.evalEvery = num(a, "eval-every", true);
  if (a.values.patience !== undefined) sched.patience = num(a, "patience", true);
  const refit = oneOf(a, "refit", ["on", "off"] as const);
  if (refit !== undefined) sched.refit = refit === "on";
  const shuffle = oneOf(a, "shuffle", ["on", "off"] as const);
  if (shuffle !== undefined) sched.shuffle = shuffle === "on";
  for (const [k, v] of [["batch", sched.batch], ["epochs", sched.epochs], ["min-count", sched.minCount], ["patience", sched.patience]] as const) {
    if (v < 1) throw new UsageError(`--${k} ${v}: give a positive integer`);
  }
  if (sched.evalEvery !== undefined && sched.evalEvery < 1) throw new UsageError(`--eval-every ${sched.evalEvery}: give a positive number of rows`);
  if (sched.shuffle && shuffle === undefined && plan.rows * rowBytes(probe.fields.length) > MAX_SHUFFLE_BYTES) sched.shuffle = false;

  const initDir = str(a, "init-from");
  const m = initDir !== undefined ? continuedModel(a, initDir, probe, sched.epochs) : buildModel(probe.fields.length, {
    model, modelConfig, optimizer, hyper: hyperOf(a, optimizer, sched.batch), dense, batch: sched.batch, epochs: sched.epochs, seed,
    shards: num(a, "shards", true), minCount: sched.minCount, pooling,
  });
  let maxFeatures = a.values["max-features"] !== undefined ? num(a, "max-features", true) : undefined;
  const maxMemory = a.values["max-memory"] !== undefined ? bytes(a, "max-memory") : undefined;
  let admissionBytes: number | undefined;
  if (maxMemory !== undefined) {
    const fixed = m.params.reduce((b, p) => b + p.value.length * 16, 0);
    const perFeature = m.tables.reduce((b, t) => b + bytesPerFeature(t), 0);
    // With admission, a fifth of the budget holds the occurrence counts.
    if (m.admission) admissionBytes = Math.floor(Math.max(0, maxMemory - fixed) * ADMISSION_SHARE);
    const fromMemory = Math.floor((maxMemory - fixed - (admissionBytes ?? 0)) / perFeature);
    if (fromMemory < 1) throw new UsageError(`--max-memory ${maxMemory}: the dense layers alone take ${fixed} bytes`);
    maxFeatures = Math.min(maxFeatures ?? Infinity, fromMemory);
  }
  const evict = a.values.evict === true;
  if (evict && maxFeatures === undefined) throw new UsageError("--evict needs --max-features or --max-memory");
  const { onSkip: _, ...read } = readOpts;
  const run: TrainRun = {
    files: { train: trainPaths, test: testPaths, validation: valPaths },
    read: { ...read, schema: typeof read.schema === "string" ? read.schema : undefined },
    plan,
    schedule: { evalEvery: sched.evalEvery, patience: sched.patience, shuffle: sched.shuffle, refit: sched.refit },
    monitor: monitor ?? "auc",
    calibrate: calibrate === "on",
    fma: a.values.fma === true,
    checkpoint: { everyRows, everySeconds },
    budget: { maxFeatures, evict, ...(admissionBytes !== undefined ? { admissionBytes } : {}) },
    skipNonFinite: a.values["skip-nonfinite"] === true,
  };
  return { run, model: m, out };
}

/**
 * The model of a finished run (`--init-from DIR`), to train on new data: its
 * state as it finished (calibration included, refit again at the end of the
 * new run), with the passes of the new data's schedule; every other setting
 * is that run's.
 */
function continuedModel(a: ParsedArgs, dir: string, probe: DataFile, epochs: number): CtrModel {
  const given = MODEL_OPTIONS.filter((k) => a.values[k] !== undefined);
  if (given.length) throw new UsageError(`--init-from ${dir} continues that run's model with its settings: drop ${given.map((k) => "--" + k).join(", ")}`);
  let init: ReturnType<typeof restoreModel>;
  try {
    init = restoreModel(dir);
  } catch (e) {
    throw new UsageError(`--init-from ${dir}: ${(e as Error).message}`);
  }
  const { model: m, meta } = init;
  if (meta.fields.join("\u0000") !== probe.fields.join("\u0000")) {
    throw new UsageError(`--init-from ${dir}: that run read the fields ${meta.fields.join(",")}, ${probe.path} has ${probe.fields.join(",")}`);
  }
  const next = new CtrModel(m.model, m.tables, m.dense, m.params, { ...m.settings, epochs }, m.admission);
  next.calibration = m.calibration;
  return next;
}

/** A new run's --out must not hold another run's checkpoint (checked before reading, and again under the folder's lock). */
export function refuseOtherRun(out: string): void {
  if (hasCheckpoint(out)) throw new UsageError(`${out} holds a checkpoint of another run: continue it with --resume ${out}, or choose another --out`);
}

/** A string option that must be one of a list (undefined when not given and without a default). */
function oneOf<T extends string>(a: ParsedArgs, name: string, values: readonly T[]): T | undefined {
  const v = str(a, name);
  if (v === undefined) return undefined;
  const hit = values.find((x) => x === v);
  if (hit === undefined) throw new UsageError(`--${name} ${v}: use ${values.join(" or ")}`);
  return hit;
}

function hyperOf(a: ParsedArgs, optimizer: OptimizerName, batch: number): Hyperparams {
  const l21Norm = str(a, "l21-norm"), rowStep = str(a, "row-step");
  if (!isL21Norm(l21Norm)) throw new UsageError(`--l21-norm ${l21Norm}: use ${L21_NORMS.join(", ")}`);
  if (!isRowStep(rowStep)) throw new UsageError(`--row-step ${rowStep}: use ${ROW_STEPS.join(" or ")}`);
  const h: Hyperparams = { l21Norm, rowStep };
  for (const [o, k] of HYPER) if (a.values[o] !== undefined) h[k] = num(a, o);
  if (a.values.l21 !== undefined && a.values.sparsity !== undefined) throw new UsageError("give --sparsity or --l21, not both");
  const sparsity = num(a, "sparsity");
  if (!(sparsity >= 0)) throw new UsageError(`--sparsity ${sparsity}: give a number >= 0`);
  if (h.l21 === undefined && optimizer.startsWith("group-")) h.l21 = sparsity / batch;
  else if (a.values.sparsity !== undefined && !optimizer.startsWith("group-")) throw new UsageError(`--sparsity needs a group-* optimizer (${optimizer} has no group lasso)`);
  return h;
}

/** Where the training, validation and test rows of the training files are (one counting pass). */
async function planRows(file: DataFile, a: ParsedArgs, valFraction: number, copyDir: string | undefined): Promise<RowPlan> {
  let test: { start: number; end: number } | undefined, total: number;
  if (a.values["holdout-last-day"]) {
    const s = await holdoutSplit(file, { lastDay: true }, copyDir);
    test = s.test;
    total = s.total;
  } else {
    // A file of one row has no holdout of one row (a RangeError): it counts 1.
    const split = await holdoutSplit(file, { lastRows: 1 }, copyDir).catch((e: unknown) => { if (e instanceof RangeError) return undefined; throw e; });
    total = split?.total ?? 1;
    if (a.values.holdout !== undefined) {
      const f = num(a, "holdout");
      if (!(f > 0 && f < 1)) throw new UsageError(`--holdout ${f}: give a fraction in (0, 1)`);
      test = { start: total - Math.round(total * f), end: total };
    } else if (a.values["holdout-rows"] !== undefined) {
      const n = num(a, "holdout-rows", true);
      if (n < 1 || n >= total) throw new UsageError(`--holdout-rows ${n}: give an integer in [1, ${total - 1}] for ${total} rows`);
      test = { start: total - n, end: total };
    }
  }
  const end = test ? test.start : total;
  if (valFraction === 0) return { train: test ? { start: 0, end } : {}, test, rows: end };
  const v = Math.round(end * valFraction);
  if (v < 1 || end - v < 1) throw new Error(`${file.path}: ${end} training rows are too few to keep ${valFraction} of them for validation (--val-fraction 0 turns validation off)`);
  return { train: { start: 0, end: end - v }, val: { start: end - v, end }, test, rows: end - v };
}

