/**
 * `sparsectr train`: a click log (one or more files) in, a trained model out.
 * By default the last 10% of the training rows are validation rows: the run
 * is evaluated on them during training, stops when they stop improving and
 * keeps its best state; batch size, passes, admission and regularisation
 * follow the schedule of src/train/schedule.ts for the file's size.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { availableParallelism } from "node:os";
import { openData, prefetched, holdoutSplit, type DataFile, type ReadOptions } from "../data/index.js";
import { isModelName, MODEL_NAMES, type ModelName } from "../models/index.js";
import { POOLINGS, type Pooling } from "../nn/bag.js";
import {
  isL21Norm, isOptimizerName, isRowStep, L21_NORMS, NUMERIC_HYPERPARAMS, OPTIMIZER_NAMES, ROW_STEPS, type Hyperparams, type NumericHyperparam, type OptimizerName,
} from "../optim/hyper.js";
import { configureLayers } from "../kernels/layers/index.js";
import { buildModel, bytesPerFeature, type CtrModel } from "../train/model.js";
import { trainModel, type Progress, type TrainControl, type RowSource } from "../train/trainer.js";
import { evaluateModel } from "../train/evaluate.js";
import { dataChange, dataIdentity, hasCheckpoint, readCheckpoint, removeStaleTemporaries, writeCheckpoint } from "../train/checkpoint.js";
import { EarlyStopping, MONITORS, type Monitor } from "../train/validation.js";
import { DEFAULT_SPARSITY, defaultSchedule, unvalidatedSchedule, type Schedule } from "../train/schedule.js";
import { ShuffledRows, rowBytes } from "../train/shuffle.js";
import { collectLogits, fitCalibration } from "../train/calibration.js";
import { lockDir } from "../io/lock.js";
import { writeFileAtomic } from "../io/atomic.js";
import { exportModel } from "../serve/model-file.js";
import { inputSpec } from "./serve-io.js";
import { list, num, str, UsageError, type Command, type ParsedArgs } from "./args.js";
import { expandFiles, READ_OPTIONS, readOptionsOf } from "./read-options.js";

/** The options of the numeric hyperparameters. */
const HYPER: readonly [string, NumericHyperparam][] = NUMERIC_HYPERPARAMS.map((k) => [k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`), k]);

/** Rows held in memory for shuffled passes at most (about 1 GiB of Criteo rows). */
const MAX_SHUFFLE_BYTES = 2 ** 30;

export const train: Command = {
  name: "train",
  summary: "train a CTR model with a sparse-group-lasso optimizer, stopping on validation rows, and evaluate it",
  usage: "train --train FILE [--train FILE2 ...] [--test FILE | --holdout F | --holdout-rows N | --holdout-last-day] [--model dcn] [--optimizer group-adam] [options]",
  options: [
    { name: "train", type: "string", multiple: true, help: "training file (criteo, avazu, libsvm or csv; plain or gzip); repeat it, or give a quoted pattern such as 'day*.csv', for several files, read in order" },
    { name: "test", type: "string", multiple: true, help: "test file(s) in the same format" },
    { name: "holdout", type: "string", help: "test on the last fraction of the training rows (Criteo's 1/7: 0.142857)" },
    { name: "holdout-rows", type: "string", help: "test on the last N rows of the training rows" },
    { name: "holdout-last-day", type: "boolean", help: "Avazu: test on the last day of the training rows" },
    { name: "validation", type: "string", multiple: true, help: "validation file(s) to stop on (default: the last --val-fraction of the training rows)" },
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
    { name: "threads", type: "string", help: "1: all work on one thread; 2: read and parse on a second thread and split large matrix products between two (the same model bit for bit)", defaultHelp: "2 when the machine has 2+ cores" },
    { name: "fma", type: "boolean", help: "fused multiply-adds in the matrix products (WebAssembly relaxed SIMD): faster, deterministic on one machine, but rounded differently from the default kernels" },
    { name: "out", type: "string", help: "folder for the trained model: model.sparsectr (for serving), the full training state and checkpoints (locked while a run uses it)" },
    { name: "checkpoint-every", type: "string", help: "with --out: a checkpoint every this many training rows" },
    { name: "checkpoint-secs", type: "string", help: "with --out: a checkpoint every this many seconds (0: only at the end)", default: "60" },
    { name: "resume", type: "string", help: "continue the run whose --out folder this is, from its last complete checkpoint (its options are recorded there)" },
    { name: "max-features", type: "string", help: "at most this many features (embedding rows) per table" },
    { name: "max-memory", type: "string", help: "memory budget of the model state in bytes (suffixes K, M, G): sets --max-features from the bytes a feature costs" },
    { name: "evict", type: "boolean", help: "at the budget, evict rows (zeroed by group lasso first, then the least updated) instead of stopping with an error" },
    { name: "skip-nonfinite", type: "boolean", help: "skip and count batches whose loss or gradients are not finite instead of stopping" },
    { name: "json", type: "boolean", help: "no progress line; the last line is one JSON object" },
  ],
  async run(a) {
    return runTrain(a);
  },
};

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

/** Options a resumed run may set anew; every other one comes from the checkpoint. */
const RESUME_OPTIONS = new Set(["resume", "json", "threads"]);

/** Row ranges of the data a run reads. */
interface Plan {
  train: { start?: number; end?: number };
  /** Validation rows taken from the training files (with no --validation files). */
  val?: { start: number; end: number };
  /** Test rows taken from the training files (a holdout). */
  test?: { start: number; end: number };
  /** Training rows. */
  rows: number;
}

async function runTrain(given: ParsedArgs): Promise<number> {
  if (given.positional.length) throw new UsageError(`unexpected argument "${given.positional[0]}"`);
  const resumeDir = str(given, "resume");
  let ckpt: ReturnType<typeof readCheckpoint> | undefined;
  let a = given;
  if (resumeDir !== undefined) {
    const extra = Object.keys(given.values).filter((k) => !RESUME_OPTIONS.has(k));
    if (extra.length) throw new UsageError(`--resume takes the run's options from its checkpoint: drop ${extra.map((k) => "--" + k).join(", ")}`);
    ckpt = readCheckpoint(resumeDir);
    const values: Record<string, string | true | string[]> = { ...ckpt.meta.args, out: resumeDir };
    for (const k of ["json", "threads"]) {
      delete values[k];
      if (given.values[k] !== undefined) values[k] = given.values[k];
    }
    a = { values, positional: [], defaults: given.defaults };
  }
  const trainPaths = expandFiles(list(a, "train"));
  if (!trainPaths.length) throw new UsageError("--train FILE is required");
  const model = str(a, "model")!;
  if (!isModelName(model)) throw new UsageError(`--model ${model}: use one of ${MODEL_NAMES.join(", ")}`);
  const optimizer = str(a, "optimizer")!;
  if (!isOptimizerName(optimizer)) throw new UsageError(`--optimizer ${optimizer}: use one of ${OPTIMIZER_NAMES.join(", ")}`);
  const dense = str(a, "dense");
  if (dense !== "plain" && dense !== "group") throw new UsageError(`--dense ${dense}: use plain or group`);
  const pooling = str(a, "pooling") as Pooling;
  if (!POOLINGS.includes(pooling)) throw new UsageError(`--pooling ${pooling}: use ${POOLINGS.join(" or ")}`);
  const monitor = str(a, "monitor") as Monitor;
  if (!MONITORS.includes(monitor)) throw new UsageError(`--monitor ${monitor}: use ${MONITORS.join(" or ")}`);
  const threads = a.values.threads === undefined ? Math.min(2, availableParallelism()) : num(a, "threads", true);
  if (threads < 1 || threads > 2) throw new UsageError(`--threads ${threads}: use 1 or 2`);
  const fma = a.values.fma === true;
  try {
    configureLayers({ threads, fma });
  } catch (e) {
    throw new UsageError(`--fma: ${(e as Error).message}`);
  }
  const seed = num(a, "seed", true);
  const holdouts = ["test", "holdout", "holdout-rows", "holdout-last-day"].filter((k) => a.values[k] !== undefined);
  if (holdouts.length > 1) throw new UsageError(`give one of --test, --holdout, --holdout-rows, --holdout-last-day (got ${holdouts.map((h) => "--" + h).join(", ")})`);
  const valFraction = num(a, "val-fraction");
  if (!(valFraction >= 0 && valFraction < 1)) throw new UsageError(`--val-fraction ${valFraction}: give a fraction in [0, 1)`);
  const valPaths = expandFiles(list(a, "validation"));
  if (valPaths.length && a.values["val-fraction"] !== undefined) throw new UsageError("give --validation FILE or --val-fraction, not both");
  const modelConfig: Record<string, unknown> = {};
  if (a.values.embedding !== undefined) modelConfig.embedding = num(a, "embedding", true);
  if (a.values.dropout !== undefined) modelConfig.dropout = num(a, "dropout");
  if (a.values["cross-layers"] !== undefined) modelConfig.crossLayers = num(a, "cross-layers", true);
  const hidden = str(a, "hidden");
  if (hidden !== undefined) {
    modelConfig.hidden = hidden.split(",").map((x) => Number(x));
    if ((modelConfig.hidden as number[]).some((x) => !Number.isSafeInteger(x) || x < 1)) throw new UsageError(`--hidden ${hidden}: give positive integers separated by commas`);
  }
  const json = a.values.json === true;
  const tty = !json && process.stderr.isTTY;
  // Every bad row is reported once, as it is met (later passes meet it again).
  const reported = new Set<string>();
  const readOpts = readOptionsOf(a, (e) => {
    const at = `${e.file}:${e.line}`;
    if (json || reported.has(at)) return;
    reported.add(at);
    if (reported.size <= 10) process.stderr.write(`${tty ? "\r" : ""}skipped a bad row: ${e.message}\n`);
    else if (reported.size === 11) process.stderr.write("skipping more bad rows (counted in the report)\n");
  });

  // One counting pass places the validation and test rows and sizes the schedule.
  const probe = await openData(trainPaths, readOpts);
  const plan = await planRows(probe, a, valPaths.length ? 0 : valFraction);
  const validated = valPaths.length > 0 || plan.val !== undefined;
  const sched: Schedule = { ...(validated ? defaultSchedule(plan.rows) : unvalidatedSchedule(plan.rows)) };
  if (a.values.batch !== undefined) sched.batch = num(a, "batch", true);
  if (a.values.epochs !== undefined) sched.epochs = num(a, "epochs", true);
  if (a.values["min-count"] !== undefined) sched.minCount = num(a, "min-count", true);
  if (a.values["eval-every"] !== undefined) sched.evalEvery = num(a, "eval-every", true);
  if (a.values.patience !== undefined) sched.patience = num(a, "patience", true);
  const refitOpt = str(a, "refit");
  if (refitOpt !== undefined && refitOpt !== "on" && refitOpt !== "off") throw new UsageError(`--refit ${refitOpt}: use on or off`);
  if (refitOpt !== undefined) sched.refit = refitOpt === "on";
  const shuffleOpt = str(a, "shuffle");
  if (shuffleOpt !== undefined && shuffleOpt !== "on" && shuffleOpt !== "off") throw new UsageError(`--shuffle ${shuffleOpt}: use on or off`);
  if (shuffleOpt !== undefined) sched.shuffle = shuffleOpt === "on";
  for (const [k, v] of [["batch", sched.batch], ["epochs", sched.epochs], ["min-count", sched.minCount], ["patience", sched.patience]] as const) {
    if (v < 1) throw new UsageError(`--${k} ${v}: give a positive integer`);
  }
  if (sched.evalEvery !== undefined && sched.evalEvery < 1) throw new UsageError(`--eval-every ${sched.evalEvery}: give a positive number of rows`);
  const batch = sched.batch;
  const shuffleBytes = plan.rows * rowBytes(probe.fields.length);
  if (sched.shuffle && shuffleOpt === undefined && shuffleBytes > MAX_SHUFFLE_BYTES) sched.shuffle = false;

  const trainFile = prefetched(await openData(trainPaths, { ...readOpts, batchSize: batch }), threads > 1);
  const evalOpts = { ...readOpts, batchSize: 4096 };
  const testPaths = expandFiles(list(a, "test"));
  const testFile: DataFile | undefined = testPaths.length ? await openData(testPaths, evalOpts) : plan.test ? await openData(trainPaths, evalOpts) : undefined;
  const valFile: DataFile | undefined = valPaths.length ? await openData(valPaths, evalOpts) : plan.val ? await openData(trainPaths, evalOpts) : undefined;
  for (const f of [testFile, valFile]) {
    if (f && f.fields.join("\u0000") !== trainFile.fields.join("\u0000")) throw new Error(`${f.path}: its fields are not those of ${trainFile.path}`);
  }

  const out = str(a, "out");
  const everyRows = a.values["checkpoint-every"] !== undefined ? num(a, "checkpoint-every", true) : undefined;
  const everySecs = num(a, "checkpoint-secs");
  if (!(everySecs >= 0)) throw new UsageError(`--checkpoint-secs ${everySecs}: give a number of seconds >= 0`);
  if (!out && (a.values["checkpoint-every"] !== undefined || a.values["checkpoint-secs"] !== undefined)) throw new UsageError("checkpoints need --out DIR");
  if (out) {
    mkdirSync(out, { recursive: true });
    lockDir(out);
    removeStaleTemporaries(out);
    if (!ckpt && hasCheckpoint(out)) throw new UsageError(`${out} holds a checkpoint of another run: continue it with --resume ${out}, or choose another --out`);
  }
  const identity = trainPaths.map(dataIdentity);
  if (ckpt) {
    const change = dataChange(ckpt.meta.data, identity);
    if (change) throw new Error(`${change}: a resumed run needs the same data`);
  }
  const m = ckpt ? ckpt.model : buildModel(trainFile.fields.length, {
    model: model as ModelName, modelConfig, optimizer, hyper: hyperOf(a, optimizer, batch), dense, batch, epochs: sched.epochs, seed,
    shards: num(a, "shards", true), minCount: sched.minCount, pooling,
  });
  let maxFeatures = a.values["max-features"] !== undefined ? num(a, "max-features", true) : undefined;
  const maxMemory = a.values["max-memory"] !== undefined ? parseBytes(str(a, "max-memory")!) : undefined;
  if (maxMemory !== undefined) {
    const fixed = m.params.reduce((b, p) => b + p.value.length * 16, 0);
    const perFeature = m.tables.reduce((b, t) => b + bytesPerFeature(t), 0);
    const fromMemory = Math.floor((maxMemory - fixed) / perFeature);
    if (fromMemory < 1) throw new UsageError(`--max-memory ${maxMemory}: the dense layers alone take ${fixed} bytes`);
    maxFeatures = Math.min(maxFeatures ?? Infinity, fromMemory);
  }
  if (a.values.evict && maxFeatures === undefined) throw new UsageError("--evict needs --max-features or --max-memory");

  const source: DataFile | RowSource = sched.shuffle ? await ShuffledRows.load(trainFile, plan.train, batch, seed) : trainFile;
  const stopper = valFile ? new EarlyStopping(m, { file: valFile, range: valPaths.length ? undefined : plan.val }, {
    monitor, patience: sched.patience,
    onEvaluation: (p, best) => {
      if (!json) process.stderr.write(`${tty ? "\r" : ""}pass ${p.epoch}, ${p.rows} rows: validation AUC ${p.auc.toFixed(4)}, log loss ${p.logloss.toFixed(4)}, live features ${p.liveFeatures}/${p.features}${best ? " (best)" : ""}\n`);
    },
  }) : undefined;
  if (stopper && ckpt?.meta.validation) stopper.resume(ckpt.meta.validation, ckpt.best);

  let evictions = 0, evicted = 0;
  const recorded = Object.fromEntries(Object.entries(a.values).filter(([k]) => !RESUME_OPTIONS.has(k) && k !== "out"));
  const control: TrainControl = {
    start: ckpt?.meta.position,
    skipNonFinite: a.values["skip-nonfinite"] === true,
    maxFeatures,
    onFull: a.values.evict ? "evict" : "stop",
    onEvict: (e) => { evictions++; evicted += e.evicted; },
    checkpointEveryRows: everyRows,
    checkpointEverySeconds: everySecs > 0 ? everySecs : undefined,
    checkpoint: out ? (position) => {
      const v = stopper?.record();
      writeCheckpoint(out, m, {
        settings: m.settings, fields: [...trainFile.fields], format: trainFile.format, params: m.params.map((p) => p.name),
        position, args: recorded, data: identity, validation: v?.record,
      }, v?.copy);
    } : undefined,
    ...(stopper ? { evaluate: stopper.evaluate, evaluateEveryRows: sched.evalEvery, beforeStep: stopper.beforeStep, finish: () => stopper.restoreBest() } : {}),
  };
  // Ctrl-C (or SIGTERM) stops after the current step with a checkpoint; a second one kills.
  let stop = false;
  const onSignal = (): void => { stop = true; };
  if (out) {
    control.shouldStop = () => stop;
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
  }
  let last = 0;
  const progress = (p: Progress): void => {
    if (!tty || p.seconds - last < 0.5) return;
    last = p.seconds;
    const rate = p.rows / p.seconds;
    process.stderr.write(`\r${p.rows} rows  ${Math.round(rate)} rows/s  loss ${p.loss.toFixed(4)}  live features ${p.liveFeatures}/${p.features}   `);
  };
  let r;
  try {
    r = await trainModel(m, source, plan.train, progress, control);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  if (tty) process.stderr.write("\n");
  if (r.stopped) {
    process.stderr.write(`stopped after ${r.position.rows} rows; the checkpoint in ${out} continues it: sparsectr train --resume ${out}\n`);
    return 130;
  }
  const calibrate = str(a, "calibrate", "on");
  if (calibrate !== "on" && calibrate !== "off") throw new UsageError(`--calibrate ${calibrate}: use on or off`);
  if (valFile && calibrate === "on") {
    const { z, y } = await collectLogits((b, o) => m.logits(b, o), valFile, valPaths.length ? undefined : plan.val);
    m.calibration = fitCalibration(z, y);
  }
  // The validation rows of the training files train last (one pass, in order).
  const refit = sched.refit && plan.val !== undefined && valPaths.length === 0;
  let refitRows = 0;
  if (refit) {
    const rr = await trainModel(m, trainFile, plan.val, undefined, { skipNonFinite: control.skipNonFinite, maxFeatures, onFull: control.onFull, onEvict: control.onEvict });
    refitRows = rr.rows;
  }
  const ev = testFile ? await evaluateModel(m, testFile, testPaths.length ? undefined : plan.test) : undefined;
  const best = stopper?.best;
  const report = {
    // rows: the distinct rows trained on (the validation rows too when they trained last).
    model, optimizer, threads, fma, rows: plan.rows + refitRows, epochs: +(r.position.rows / Math.max(plan.rows, 1)).toFixed(3), steps: r.position.steps,
    refitRows,
    batch, minCount: m.settings.minCount, shuffle: sched.shuffle,
    seconds: +r.seconds.toFixed(3), rowsPerSec: Math.round(r.rows / r.seconds),
    resumed: ckpt !== undefined, skippedBatches: r.position.skippedBatches,
    bestEpoch: best?.epoch ?? null, bestRows: best?.rows ?? null,
    validationAuc: best?.auc ?? null, validationLogloss: best?.logloss ?? null, earlyStopped: r.earlyStopped, calibration: m.calibration,
    validationRows: valFile ? (plan.val ? plan.val.end - plan.val.start : null) : 0,
    curve: stopper?.curve ?? [],
    bytesPerFeature: m.features ? +(m.memoryBytes / m.features).toFixed(1) : null, memoryBytes: m.memoryBytes,
    maxFeatures: maxFeatures ?? null, evictions, evictedFeatures: evicted,
    trainLoss: r.loss, auc: ev?.auc ?? null, logloss: ev?.logloss ?? null, testRows: ev?.rows ?? 0,
    featureRate: m.featureRate, features: m.features, liveFeatures: m.liveFeatures, tableRows: Math.max(...m.tables.map((t) => t.size)),
    admittedFeatures: m.admission?.admitted ?? m.features, oovRouted: m.admission?.routed ?? 0,
    modelBytes: m.modelBytes, modelSha256: m.sha256(), skippedRows: trainFile.stats.skipped,
  };
  if (out) writeOutputs(out, m, trainFile, readOpts, report);
  if (json) process.stdout.write(JSON.stringify(report) + "\n");
  else process.stdout.write(summary(report, m, r, ev, trainFile) + "\n");
  return 0;
}

/** Where the training, validation and test rows of the training files are (one counting pass). */
async function planRows(file: DataFile, a: ParsedArgs, valFraction: number): Promise<Plan> {
  let test: { start: number; end: number } | undefined, total: number;
  if (a.values["holdout-last-day"]) {
    const s = await holdoutSplit(file, { lastDay: true });
    test = s.test;
    total = s.total;
  } else {
    total = (await holdoutSplit(file, { lastRows: 1 }).catch(() => undefined))?.total ?? 1;
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

/** The folder of a finished run: the serving model, every state, the settings and report. */
function writeOutputs(out: string, m: CtrModel, trainFile: DataFile, readOpts: ReadOptions, report: Record<string, unknown>): void {
  m.tables.forEach((t, k) => writeFileAtomic(join(out, `table${k}.state`), t.save()));
  m.dense.forEach((d, i) => writeFileAtomic(join(out, `dense${i}.state`), d.save()));
  if (m.admission) writeFileAtomic(join(out, "admission.state"), m.admission.save());
  const input = inputSpec(trainFile, readOpts);
  writeFileAtomic(join(out, "model.json"), new TextEncoder().encode(JSON.stringify({ settings: m.settings, fields: trainFile.fields, format: trainFile.format, input, params: m.params.map((p) => p.name), calibration: m.calibration, report }, null, 2)));
  exportModel(m, input, join(out, "model.sparsectr"));
}

function summary(report: Record<string, unknown> & { rowsPerSec: number; modelBytes: number; modelSha256: string }, m: CtrModel,
  r: { rows: number; seconds: number; loss: number }, ev: { auc: number; logloss: number; rows: number } | undefined, trainFile: DataFile): string {
  const lines = [
    `trained ${report.model} with ${report.optimizer} on ${report.rows} rows (${report.epochs} passes, batch ${report.batch}) in ${r.seconds.toFixed(1)} s (${report.rowsPerSec} rows/s), train log loss ${r.loss.toFixed(4)}`,
  ];
  if (report.bestEpoch !== null) lines.push(`best validation AUC ${(report.validationAuc as number).toFixed(4)}, log loss ${(report.validationLogloss as number).toFixed(4)} in pass ${report.bestEpoch} after ${report.bestRows} rows${report.earlyStopped ? " (stopped early)" : ""}; the model is that state`);
  lines.push(ev ? `test: AUC ${ev.auc.toFixed(4)}, log loss ${ev.logloss.toFixed(4)} on ${ev.rows} rows` : "no test data (give --test or a --holdout)");
  lines.push(`features: ${m.liveFeatures} live of ${m.features} (feature rate ${m.featureRate.toFixed(4)}), model ${report.modelBytes} bytes`);
  lines.push(`model sha256 ${report.modelSha256}`);
  const skipped = trainFile.stats.skipped;
  if (skipped) lines.push(`skipped ${skipped} malformed rows, the first: ${trainFile.stats.firstBad.map((e) => e.message).join("; ")}`);
  return lines.join("\n");
}

/** "1000", "64K", "1.5G" (powers of 1024) as bytes. */
function parseBytes(v: string): number {
  const m = /^(\d+(?:\.\d+)?)([KMG]?)i?B?$/i.exec(v.trim());
  if (!m) throw new UsageError(`--max-memory ${v}: give bytes, optionally with K, M or G`);
  const mult = { "": 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30 }[m[2].toUpperCase() as "" | "K" | "M" | "G"];
  return Math.floor(Number(m[1]) * mult);
}
