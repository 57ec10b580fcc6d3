import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { availableParallelism } from "node:os";
import { openData, holdoutSplit, type Format, type Holdout } from "../data/index.js";
import { isModelName, MODEL_NAMES, type ModelName } from "../models/index.js";
import { isOptimizerName, OPTIMIZER_NAMES, type Hyperparams } from "../optim/hyper.js";
import { configureDense } from "../kernels/dense.js";
import { buildModel, bytesPerFeature, evaluateModel, trainModel, type Progress, type TrainControl } from "../train/trainer.js";
import { dataIdentity, hasCheckpoint, readCheckpoint, removeStaleTemporaries, writeCheckpoint } from "../train/checkpoint.js";
import { lockDir } from "../io/lock.js";
import { writeFileAtomic } from "../io/atomic.js";
import { exportModel } from "../serve/model-file.js";
import { inputSpec } from "./serve-io.js";
import { num, str, UsageError, type Command, type ParsedArgs } from "./args.js";

const HYPER: [string, keyof Hyperparams][] = [
  ["lr", "lr"], ["beta1", "beta1"], ["beta2", "beta2"], ["epsilon", "epsilon"], ["momentum", "momentum"],
  ["l1", "l1"], ["l21", "l21"], ["l2", "l2"], ["initial-accumulator", "initialAccumulator"],
];

/** `sparsectr train`: one streaming pass (or more) over a click log, then evaluation. */
export const train: Command = {
  name: "train",
  summary: "train a CTR model with a sparse-group-lasso optimizer and evaluate it",
  usage: "train --train FILE [--test FILE | --holdout F | --holdout-rows N | --holdout-last-day] [--model dcn] [--optimizer group-adam] [--l21 X] [options]",
  options: [
    { name: "train", type: "string", help: "training file (criteo, avazu, libsvm or csv; plain or gzip)" },
    { name: "test", type: "string", help: "test file in the same format" },
    { name: "holdout", type: "string", help: "test on the last fraction of the training file (Criteo's 1/7: 0.142857)" },
    { name: "holdout-rows", type: "string", help: "test on the last N rows of the training file" },
    { name: "holdout-last-day", type: "boolean", help: "Avazu: test on the last day of the training file" },
    { name: "format", type: "string", help: "criteo, avazu, libsvm or csv (detected when unambiguous)" },
    { name: "schema", type: "string", help: "schema JSON for csv files" },
    { name: "featindex", type: "string", help: "libsvm feature dictionary" },
    { name: "skip-bad-rows", type: "boolean", help: "skip and count malformed rows instead of stopping" },
    { name: "model", type: "string", help: `model: ${MODEL_NAMES.join(", ")}`, default: "dcn" },
    { name: "embedding", type: "string", help: "embedding size (default the model's preset)" },
    { name: "hidden", type: "string", help: "hidden layer sizes, comma-separated (default the preset's)" },
    { name: "dropout", type: "string", help: "dropout rate after hidden layers (default the preset's)" },
    { name: "cross-layers", type: "string", help: "DCN cross layers (default 2)" },
    { name: "optimizer", type: "string", help: `optimizer of the embeddings: ${OPTIMIZER_NAMES.join(", ")}`, default: "group-adam" },
    ...HYPER.map(([o]) => ({ name: o, type: "string" as const, help: `hyperparameter ${o} (default the optimizer's)` })),
    { name: "l21-norm", type: "string", help: "raw, scaled or eq10", default: "raw" },
    { name: "row-step", type: "string", help: "global or per-row bias correction of lazy rows", default: "global" },
    { name: "dense", type: "string", help: "dense layers: plain (the paper) or group (rows of units regularised too)", default: "plain" },
    { name: "epochs", type: "string", help: "passes over the training rows", default: "1" },
    { name: "batch", type: "string", help: "rows per step", default: "512" },
    { name: "seed", type: "string", help: "seed of every random choice", default: "0" },
    { name: "shards", type: "string", help: "split each embedding table over this many WebAssembly memories (4 GiB each; the paper's Criteo table needs 2)", default: "1" },
    { name: "threads", type: "string", help: "1: all work on one thread; 2: read and parse on a second thread and split large matrix products between two (the same model bit for bit)", default: "2 when the machine has 2+ cores" },
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

function hyperOf(a: ParsedArgs): Hyperparams {
  const h: Record<string, unknown> = {};
  for (const [o, k] of HYPER) if (a.values[o] !== undefined) h[k] = num(a, o, 0);
  h.l21Norm = str(a, "l21-norm", "raw");
  h.rowStep = str(a, "row-step", "global");
  return h as Hyperparams;
}

/** Options a resumed run may set anew; every other one comes from the checkpoint. */
const RESUME_OPTIONS = new Set(["resume", "json", "threads"]);

async function runTrain(given: ParsedArgs): Promise<number> {
  if (given.positional.length) throw new UsageError(`unexpected argument "${given.positional[0]}"`);
  const resumeDir = str(given, "resume");
  let ckpt: ReturnType<typeof readCheckpoint> | undefined;
  let a = given;
  if (resumeDir !== undefined) {
    const extra = Object.keys(given.values).filter((k) => !RESUME_OPTIONS.has(k));
    if (extra.length) throw new UsageError(`--resume takes the run's options from its checkpoint: drop ${extra.map((k) => "--" + k).join(", ")}`);
    ckpt = readCheckpoint(resumeDir);
    const values: Record<string, string | true> = { ...ckpt.meta.args, out: resumeDir };
    for (const k of ["json", "threads"]) {
      delete values[k];
      if (given.values[k] !== undefined) values[k] = given.values[k];
    }
    a = { values, positional: [] };
  }
  const trainPath = str(a, "train");
  if (!trainPath) throw new UsageError("--train FILE is required");
  const model = str(a, "model", "dcn")!;
  if (!isModelName(model)) throw new UsageError(`--model ${model}: use one of ${MODEL_NAMES.join(", ")}`);
  const optimizer = str(a, "optimizer", "group-adam")!;
  if (!isOptimizerName(optimizer)) throw new UsageError(`--optimizer ${optimizer}: use one of ${OPTIMIZER_NAMES.join(", ")}`);
  const dense = str(a, "dense", "plain");
  if (dense !== "plain" && dense !== "group") throw new UsageError(`--dense ${dense}: use plain or group`);
  const threads = a.values.threads === undefined ? Math.min(2, availableParallelism()) : num(a, "threads", 2, true);
  if (threads < 1 || threads > 2) throw new UsageError(`--threads ${threads}: use 1 or 2`);
  const fma = a.values.fma === true;
  try {
    configureDense({ threads, fma });
  } catch (e) {
    throw new UsageError(`--fma: ${(e as Error).message}`);
  }
  const batch = num(a, "batch", 512, true), epochs = num(a, "epochs", 1, true), seed = num(a, "seed", 0, true);
  const holdouts = ["test", "holdout", "holdout-rows", "holdout-last-day"].filter((k) => a.values[k] !== undefined);
  if (holdouts.length > 1) throw new UsageError(`give one of --test, --holdout, --holdout-rows, --holdout-last-day (got ${holdouts.map((h) => "--" + h).join(", ")})`);
  const modelConfig: Record<string, unknown> = {};
  if (a.values.embedding !== undefined) modelConfig.embedding = num(a, "embedding", 0, true);
  if (a.values.dropout !== undefined) modelConfig.dropout = num(a, "dropout", 0);
  if (a.values["cross-layers"] !== undefined) modelConfig.crossLayers = num(a, "cross-layers", 0, true);
  const hidden = str(a, "hidden");
  if (hidden !== undefined) {
    modelConfig.hidden = hidden.split(",").map((x) => Number(x));
    if ((modelConfig.hidden as number[]).some((x) => !Number.isSafeInteger(x) || x < 1)) throw new UsageError(`--hidden ${hidden}: give positive integers separated by commas`);
  }
  const readOpts = {
    format: str(a, "format") as Format | undefined, schema: str(a, "schema"), featindex: str(a, "featindex"),
    skipBadRows: a.values["skip-bad-rows"] === true, batchSize: batch,
    prefetch: threads > 1,
  };
  const json = a.values.json === true;
  const trainFile = await openData(trainPath, readOpts);
  let trainRange: { start?: number; end?: number } = {}, testRange: { start?: number; end?: number } = {};
  let testFile = trainFile, hasTest = true;
  const testPath = str(a, "test");
  if (testPath) testFile = await openData(testPath, readOpts);
  else {
    let h: Holdout | undefined;
    if (a.values.holdout !== undefined) h = { lastFraction: num(a, "holdout", 0) };
    else if (a.values["holdout-rows"] !== undefined) h = { lastRows: num(a, "holdout-rows", 0, true) };
    else if (a.values["holdout-last-day"]) h = { lastDay: true };
    if (h) {
      const s = await holdoutSplit(trainFile, h);
      trainRange = s.train;
      testRange = s.test;
    } else hasTest = false;
  }
  const out = str(a, "out");
  const everyRows = a.values["checkpoint-every"] !== undefined ? num(a, "checkpoint-every", 0, true) : undefined;
  const everySecs = num(a, "checkpoint-secs", 60);
  if (!(everySecs >= 0)) throw new UsageError(`--checkpoint-secs ${everySecs}: give a number of seconds >= 0`);
  if (!out && (a.values["checkpoint-every"] !== undefined || a.values["checkpoint-secs"] !== undefined)) throw new UsageError("checkpoints need --out DIR");
  if (out) {
    mkdirSync(out, { recursive: true });
    lockDir(out);
    removeStaleTemporaries(out);
    if (!ckpt && hasCheckpoint(out)) throw new UsageError(`${out} holds a checkpoint of another run: continue it with --resume ${out}, or choose another --out`);
  }
  const identity = dataIdentity(trainPath);
  if (ckpt) {
    const was = ckpt.meta.data;
    if (was.size !== identity.size || was.mtimeMs !== identity.mtimeMs) {
      throw new Error(`${trainPath} changed since the checkpoint (size ${was.size} -> ${identity.size}, modified ${new Date(was.mtimeMs).toISOString()} -> ${new Date(identity.mtimeMs).toISOString()}): a resumed run needs the same data`);
    }
  }
  const m = ckpt ? ckpt.model : buildModel(trainFile.fields.length, {
    model: model as ModelName, modelConfig, optimizer, hyper: hyperOf(a), dense, batch, epochs, seed, shards: num(a, "shards", 1, true),
  });
  let maxFeatures = a.values["max-features"] !== undefined ? num(a, "max-features", 0, true) : undefined;
  const maxMemory = a.values["max-memory"] !== undefined ? parseBytes(str(a, "max-memory")!) : undefined;
  if (maxMemory !== undefined) {
    const fixed = m.params.reduce((b, p) => b + p.value.length * 16, 0);
    const perFeature = m.tables.reduce((b, t) => b + bytesPerFeature(t), 0);
    const fromMemory = Math.floor((maxMemory - fixed) / perFeature);
    if (fromMemory < 1) throw new UsageError(`--max-memory ${maxMemory}: the dense layers alone take ${fixed} bytes`);
    maxFeatures = Math.min(maxFeatures ?? Infinity, fromMemory);
  }
  if (a.values.evict && maxFeatures === undefined) throw new UsageError("--evict needs --max-features or --max-memory");
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
    checkpoint: out ? (position) => writeCheckpoint(out, m, {
      settings: m.settings, fields: [...trainFile.fields], format: trainFile.format, params: m.params.map((p) => p.name),
      position, args: recorded, data: identity,
    }) : undefined,
  };
  // Ctrl-C (or SIGTERM) stops after the current step with a checkpoint; a second one kills.
  let stop = false;
  const onSignal = (): void => { stop = true; };
  if (out) {
    control.shouldStop = () => stop;
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
  }
  // The number of training rows is known after a holdout split's counting pass.
  const knownRows = trainRange.end !== undefined ? trainRange.end - (trainRange.start ?? 0) : 0;
  const tty = !json && process.stderr.isTTY;
  let last = 0;
  const progress = (p: Progress): void => {
    if (!tty || p.seconds - last < 0.5) return;
    last = p.seconds;
    const rate = p.rows / p.seconds;
    const eta = knownRows ? `  ETA ${Math.max(0, Math.round((knownRows * epochs - p.rows) / rate))} s` : "";
    process.stderr.write(`\r${p.rows} rows  ${Math.round(rate)} rows/s  loss ${p.loss.toFixed(4)}  live features ${p.liveFeatures}/${p.features}${eta}   `);
  };
  let r;
  try {
    r = await trainModel(m, trainFile, trainRange, progress, control);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  if (tty) process.stderr.write("\n");
  if (r.stopped) {
    process.stderr.write(`stopped after ${r.position.rows} rows; the checkpoint in ${out} continues it: sparsectr train --resume ${out}\n`);
    return 130;
  }
  const ev = hasTest ? await evaluateModel(m, testFile, testRange) : undefined;
  const skipped = trainFile.stats.skipped;
  const report = {
    model, optimizer, threads, fma, rows: r.position.rows, seconds: +r.seconds.toFixed(3), rowsPerSec: Math.round(r.rows / r.seconds),
    resumed: ckpt !== undefined, skippedBatches: r.position.skippedBatches,
    bytesPerFeature: m.features ? +(m.memoryBytes / m.features).toFixed(1) : null, memoryBytes: m.memoryBytes,
    maxFeatures: maxFeatures ?? null, evictions, evictedFeatures: evicted,
    trainLoss: r.loss, auc: ev?.auc ?? null, logloss: ev?.logloss ?? null, testRows: ev?.rows ?? 0,
    featureRate: m.featureRate, features: m.features, liveFeatures: m.liveFeatures,
    modelBytes: m.modelBytes, modelSha256: m.sha256(), skippedRows: skipped,
  };
  if (out) {
    m.tables.forEach((t, k) => writeFileAtomic(join(out, `table${k}.state`), t.save()));
    m.dense.forEach((d, i) => writeFileAtomic(join(out, `dense${i}.state`), d.save()));
    writeFileAtomic(join(out, "model.json"), new TextEncoder().encode(JSON.stringify({ settings: m.settings, fields: trainFile.fields, format: trainFile.format, input: inputSpec(trainFile, readOpts), params: m.params.map((p) => p.name), report }, null, 2)));
    exportModel(m, inputSpec(trainFile, readOpts), join(out, "model.sparsectr"));
  }
  if (json) process.stdout.write(JSON.stringify(report) + "\n");
  else {
    const lines = [
      `trained ${model} with ${optimizer} on ${r.rows} rows in ${r.seconds.toFixed(1)} s (${report.rowsPerSec} rows/s), train log loss ${r.loss.toFixed(4)}`,
      ev ? `test: AUC ${ev.auc.toFixed(4)}, log loss ${ev.logloss.toFixed(4)} on ${ev.rows} rows` : "no test data (give --test or a --holdout)",
      `features: ${m.liveFeatures} live of ${m.features} (feature rate ${m.featureRate.toFixed(4)}), model ${report.modelBytes} bytes`,
      `model sha256 ${report.modelSha256}`,
    ];
    if (skipped) lines.push(`skipped ${skipped} malformed rows, the first: ${trainFile.stats.firstBad.map((e) => e.message).join("; ")}`);
    process.stdout.write(lines.join("\n") + "\n");
  }
  return 0;
}

/** "1000", "64K", "1.5G" (powers of 1024) as bytes. */
function parseBytes(v: string): number {
  const m = /^(\d+(?:\.\d+)?)([KMG]?)i?B?$/i.exec(v.trim());
  if (!m) throw new UsageError(`--max-memory ${v}: give bytes, optionally with K, M or G`);
  const mult = { "": 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30 }[m[2].toUpperCase() as "" | "K" | "M" | "G"];
  return Math.floor(Number(m[1]) * mult);
}
