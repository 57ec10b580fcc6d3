/**
 * A training run's options once resolved (TrainRun: its files, the rows it
 * takes from them, its schedule, stopping, checkpoints and budget), and the
 * reading back of what a checkpoint stored of a run: the run and the model's
 * settings, each field checked and typed, so that `--resume` continues from
 * the values the run used, not from its command line parsed again.
 */
import { FORMATS, type Format } from "../data/detect.js";
import type { ReadOptions } from "../data/types.js";
import { MODEL_NAMES } from "../models/index.js";
import { resolveConfig } from "../models/config.js";
import { POOLINGS } from "../nn/bag.js";
import { L21_NORMS, NUMERIC_HYPERPARAMS, OPTIMIZER_NAMES, ROW_STEPS, type Hyperparams } from "../optim/hyper.js";
import type { RowInit } from "../optim/table-options.js";
import { MAX_SHARDS } from "../optim/sharded.js";
import { JsonFields } from "../util/json-fields.js";
import { namedErrors } from "../util/named-errors.js";
import type { TrainSettings } from "./model.js";
import type { Schedule } from "./schedule.js";
import { MONITORS, type Monitor } from "./validation.js";

/** A range of data rows [start, end), 0-based over the files in order. */
export interface RowRange { start: number; end: number }

/** Where the training, validation and test rows of the training files are. */
export interface RowPlan {
  train: { start?: number; end?: number };
  /** Validation rows taken from the training files (with no validation files). */
  val?: RowRange;
  /** Test rows taken from the training files (a holdout). */
  test?: RowRange;
  /** Training rows. */
  rows: number;
}

/** The read options a run keeps (those that are settings, not callbacks or ranges). */
export type StoredReadOptions = Pick<ReadOptions, "format" | "featindex" | "labelColumn" | "skipBadRows" | "maxBadRows"> & { schema?: string };

/**
 * Everything a training run does beyond the model's settings (which the
 * model keeps: architecture, optimizer and hyperparameters, batch, passes,
 * seed, shards, admission, pooling), resolved.
 */
export interface TrainRun {
  files: { train: string[]; test: string[]; validation: string[] };
  read: StoredReadOptions;
  plan: RowPlan;
  /** The schedule's parts that are not model settings. */
  schedule: Omit<Schedule, "batch" | "epochs" | "minCount">;
  monitor: Monitor;
  /** Fit Platt scaling on the validation rows at the end. */
  calibrate: boolean;
  /** Fused multiply-adds in the matrix products. */
  fma: boolean;
  checkpoint: { everyRows?: number; everySeconds: number };
  /** Features per table at most, what happens at that budget, and the bytes of the admission counts at most. */
  budget: { maxFeatures?: number; evict: boolean; admissionBytes?: number };
  skipNonFinite: boolean;
}

/** A stored TrainRun, checked field by field. */
export function readRun(f: JsonFields): TrainRun {
  const files = f.object("files"), read = f.object("read"), plan = f.object("plan"), sched = f.object("schedule");
  const checkpoint = f.object("checkpoint"), budget = f.object("budget");
  const range = (o: JsonFields): RowRange => {
    const start = o.integer("start"), end = o.integer("end");
    if (end < start) throw new RangeError(`${o.name()}: end ${end} is before start ${start}`);
    return { start, end };
  };
  const train = plan.object("train");
  const maxBad = read.optionalObject("maxBadRows");
  return {
    files: { train: files.strings("train"), test: files.strings("test"), validation: files.strings("validation") },
    read: {
      format: read.optionalOneOf<Format>("format", FORMATS), schema: read.optionalString("schema"), featindex: read.optionalString("featindex"),
      labelColumn: read.optionalInteger("labelColumn"), skipBadRows: read.boolean("skipBadRows"),
      ...(maxBad ? { maxBadRows: maxBad.has("count") ? { count: maxBad.integer("count") } : { fraction: maxBad.number("fraction", (v) => v >= 0 && v <= 1, "a fraction") } } : {}),
    },
    plan: {
      train: { start: train.optionalInteger("start"), end: train.optionalInteger("end") },
      val: plan.has("val") ? range(plan.object("val")) : undefined,
      test: plan.has("test") ? range(plan.object("test")) : undefined,
      rows: plan.integer("rows"),
    },
    schedule: {
      evalEvery: sched.optionalInteger("evalEvery", 1), patience: sched.integer("patience", 1),
      shuffle: sched.boolean("shuffle"), refit: sched.boolean("refit"),
    },
    monitor: f.oneOf("monitor", MONITORS),
    calibrate: f.boolean("calibrate"),
    fma: f.boolean("fma"),
    checkpoint: { everyRows: checkpoint.optionalInteger("everyRows", 1), everySeconds: checkpoint.number("everySeconds", (v) => v >= 0, "seconds >= 0") },
    budget: { maxFeatures: budget.optionalInteger("maxFeatures", 1), evict: budget.boolean("evict"), admissionBytes: budget.optionalInteger("admissionBytes", 1) },
    skipNonFinite: f.boolean("skipNonFinite"),
  };
}

/**
 * Stored TrainSettings, checked field by field (values the optimizer and the
 * model check themselves, such as a learning rate's range, are checked again
 * when the model is built).
 */
export function readSettings(f: JsonFields): TrainSettings {
  const model = f.oneOf("model", MODEL_NAMES);
  const known = ["model", "modelConfig", "optimizer", "hyper", "dense", "batch", "epochs", "seed", "embeddingInit", "shards", "minCount", "pooling"];
  const unknown = f.keys().find((k) => !known.includes(k));
  if (unknown !== undefined) throw new RangeError(`${f.name()}: unknown setting "${unknown}"`);
  const s: TrainSettings = {
    model,
    optimizer: f.oneOf("optimizer", OPTIMIZER_NAMES),
    dense: f.optionalOneOf("dense", ["plain", "group"] as const),
    batch: f.optionalInteger("batch", 1, 2 ** 20),
    epochs: f.optionalInteger("epochs", 1, 2 ** 31),
    seed: f.optionalInteger("seed", 0, 0xffffffff),
    shards: f.optionalInteger("shards", 1, MAX_SHARDS),
    minCount: f.optionalInteger("minCount", 1),
    pooling: f.optionalOneOf("pooling", POOLINGS),
  };
  const mc = f.optionalObject("modelConfig");
  if (mc) {
    // Checked as the model checks a configuration (fields and seed come from the data and the run).
    const c = namedErrors(f.what, () => resolveConfig(model, { ...Object.fromEntries(mc.keys().map((k) => [k, mc.raw(k)])), fields: 1 }));
    s.modelConfig = {
      ...(mc.has("embedding") ? { embedding: c.embedding } : {}), ...(mc.has("hidden") ? { hidden: c.hidden } : {}),
      ...(mc.has("dropout") ? { dropout: c.dropout } : {}), ...(mc.has("crossLayers") ? { crossLayers: c.crossLayers } : {}),
    };
    if (mc.has("fields") || mc.has("seed")) throw new RangeError(`${mc.name()}: fields and seed are not architecture settings`);
  }
  const hf = f.optionalObject("hyper");
  if (hf) s.hyper = readHyper(hf);
  if (f.has("embeddingInit")) s.embeddingInit = readRowInit(f, "embeddingInit");
  return s;
}

function readHyper(f: JsonFields): Hyperparams {
  const numeric = new Set<string>(NUMERIC_HYPERPARAMS);
  const extra = f.keys().find((k) => !numeric.has(k) && k !== "l21Norm" && k !== "rowStep");
  if (extra !== undefined) throw new RangeError(`${f.name()}: unknown hyperparameter "${extra}"`);
  const h: Hyperparams = { l21Norm: f.optionalOneOf("l21Norm", L21_NORMS), rowStep: f.optionalOneOf("rowStep", ROW_STEPS) };
  for (const k of NUMERIC_HYPERPARAMS) h[k] = f.optionalNumber(k);
  return h;
}

function readRowInit(f: JsonFields, key: string): RowInit {
  if (f.raw(key) === "zeros") return "zeros";
  const o = f.object(key);
  if (o.has("uniform")) {
    const u = o.raw("uniform");
    if (!Array.isArray(u) || u.length !== 2 || !u.every((x): x is number => typeof x === "number" && Number.isFinite(x))) throw new RangeError(`${o.name("uniform")} is not [low, high]`);
    return { uniform: [u[0], u[1]] };
  }
  const n = o.object("normal");
  return { normal: { mean: n.optionalNumber("mean"), std: n.number("std", (v) => v >= 0, "a standard deviation >= 0") } };
}
