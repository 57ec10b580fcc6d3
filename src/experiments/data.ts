/**
 * The data of the experiments: generated Criteo-, Avazu- and iPinYou-shaped
 * click logs (train, validation and test files, each the continuation of the
 * previous one in the generator's stream, so the split is in time order as
 * the paper's), or the user's own files split the same way.
 */
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { holdoutSplit, openData, type DataFile, type Format } from "../data/index.js";
import { createGenerator, generateFiles, synthConfig, type TruthJson } from "../data/synth/index.js";
import type { ModelName } from "../models/index.js";
import { writeFileAtomic } from "../io/atomic.js";

/** Rows [start, end) of a file (absent bounds: the file's start or end). */
export interface Part {
  path: string;
  start?: number;
  end?: number;
}

/** Everything a cell needs to read a dataset; plain data (it crosses to worker threads). */
export interface DatasetSpec {
  /** Short name: criteo, avazu, ipinyou, or the user's label. */
  name: string;
  /** The paper's column name for the model on this dataset: DCN, MLP, OPNN. */
  label: string;
  model: ModelName;
  format: Format;
  featindex?: string;
  schema?: string;
  train: Part;
  val: Part;
  test: Part;
  trainRows: number;
  valRows: number;
  testRows: number;
  /** Truth of the training rows (generated data only). */
  truth?: string;
  /** Bayes-optimal AUC of the test rows (generated data only). */
  bayesAuc?: number;
  /** Changes exactly when the data changes: part of every cell's identity. */
  identity: string;
}

/** A generated dataset's defaults (scale 1). */
export interface GeneratedDefaults {
  preset: "criteo" | "avazu" | "ipinyou";
  format: Format;
  ext: string;
  model: ModelName;
  label: string;
  /** Vocabulary scale of the generator (multiplied by --scale, at most 1). */
  vocabScale: number;
  train: number;
  val: number;
  test: number;
}

/**
 * Sizes that let `sparsectr experiment paper` finish in well under 30 minutes
 * on 2 cores (see docs/experiments.md for the measured time). opnn is the
 * slowest model to train, so its dataset is the smallest.
 */
export const GENERATED: Record<"criteo" | "avazu" | "ipinyou", GeneratedDefaults> = {
  criteo: { preset: "criteo", format: "criteo", ext: "txt", model: "dcn", label: "DCN", vocabScale: 0.05, train: 200_000, val: 20_000, test: 40_000 },
  avazu: { preset: "avazu", format: "avazu", ext: "csv", model: "mlp", label: "MLP", vocabScale: 0.05, train: 250_000, val: 20_000, test: 40_000 },
  ipinyou: { preset: "ipinyou", format: "libsvm", ext: "svm", model: "opnn", label: "OPNN", vocabScale: 0.2, train: 50_000, val: 15_000, test: 30_000 },
};

export const GENERATED_NAMES = Object.keys(GENERATED) as (keyof typeof GENERATED)[];

/**
 * Writes (once) a generated dataset under dir: train, validation and test
 * files of `--scale` times the default rows, vocabularies scaled by
 * min(1, vocabScale * scale). A marker written last (atomically) makes a
 * complete dataset reusable; an incomplete one is written again.
 */
export async function prepareGenerated(
  name: keyof typeof GENERATED, dir: string, opts: { scale?: number; seed?: number } = {},
): Promise<DatasetSpec> {
  const d = GENERATED[name];
  if (!d) throw new RangeError(`unknown generated dataset "${String(name)}" (known: ${GENERATED_NAMES.join(", ")})`);
  const scale = opts.scale ?? 1, seed = opts.seed ?? 1;
  if (!(scale > 0) || !Number.isFinite(scale)) throw new RangeError(`scale ${scale} must be a positive number`);
  const rows = (n: number): number => Math.max(200, Math.round(n * scale));
  const vocabScale = Math.min(1, d.vocabScale * scale);
  const train = rows(d.train), val = rows(d.val), test = rows(d.test);
  const identity = JSON.stringify({ generated: d.preset, seed, vocabScale, train, val, test, format: d.format });
  const sub = resolve(dir, `${name}-seed${seed}-x${scale}`);
  const paths = { train: join(sub, `train.${d.ext}`), val: join(sub, `val.${d.ext}`), test: join(sub, `test.${d.ext}`) };
  const marker = join(sub, "dataset.json");
  const featindex = d.format === "libsvm" ? `${paths.train}.featindex` : undefined;
  let bayesAuc: number | undefined;
  const done = existsSync(marker) ? (JSON.parse(readFileSync(marker, "utf8")) as { identity: string; bayesAuc?: number }) : undefined;
  if (done && done.identity === identity) {
    bayesAuc = done.bayesAuc;
  } else {
    mkdirSync(sub, { recursive: true });
    const g = createGenerator(synthConfig({ preset: d.preset, seed, scale: vocabScale }));
    await generateFiles(g, { format: d.format as "criteo", start: 0, rows: train, out: paths.train });
    await generateFiles(g, { format: d.format as "criteo", start: train, rows: val, out: paths.val, featindex: null });
    const t = await generateFiles(g, { format: d.format as "criteo", start: train + val, rows: test, out: paths.test, featindex: null });
    bayesAuc = t.truth?.bayes.auc ?? undefined;
    writeFileAtomic(marker, new TextEncoder().encode(JSON.stringify({ identity, bayesAuc }) + "\n"));
  }
  return {
    name, label: d.label, model: d.model, format: d.format, ...(featindex ? { featindex } : {}),
    train: { path: paths.train }, val: { path: paths.val }, test: { path: paths.test },
    trainRows: train, valRows: val, testRows: test, truth: `${paths.train}.truth.json`,
    ...(bayesAuc !== undefined ? { bayesAuc } : {}), identity,
  };
}

/** The user's files. */
export interface RealDataOptions {
  data: string;
  test?: string;
  format?: Format;
  featindex?: string;
  schema?: string;
  model: ModelName;
  name?: string;
  /** Last fraction of the training rows held out for validation (default 0.1). */
  valFraction?: number;
  /** Without a test file: last fraction of the data file used as test rows (default 1/7, Criteo's split). */
  testFraction?: number;
  /** A truth file (generated data given as files): enables the feature-selection check. */
  truth?: string;
}

/**
 * Splits the user's data in time order: [train | validation] from --data
 * (validation = its last valFraction), test = --test, or without it the last
 * testFraction of --data (before the validation split).
 */
export async function prepareReal(o: RealDataOptions): Promise<DatasetSpec> {
  const read = { format: o.format, featindex: o.featindex, schema: o.schema };
  const file = await openData(o.data, read);
  const valFraction = o.valFraction ?? 0.1, testFraction = o.testFraction ?? 1 / 7;
  let pool: { start: number; end: number };
  let test: Part, testRows: number;
  if (o.test) {
    const s = await holdoutSplit(file, { lastFraction: valFraction });
    pool = { start: 0, end: s.total };
    const tf = await openData(o.test, { ...read, format: file.format });
    testRows = await countRows(tf);
    test = { path: resolve(o.test) };
  } else {
    const s = await holdoutSplit(file, { lastFraction: testFraction });
    pool = s.train;
    test = { path: resolve(o.data), start: s.test.start, end: s.test.end };
    testRows = s.test.end - s.test.start;
  }
  const n = pool.end - pool.start, nVal = Math.round(n * valFraction);
  if (nVal < 1 || nVal >= n) throw new RangeError(`${o.data}: a validation fraction of ${valFraction} leaves ${n - nVal} training and ${nVal} validation rows`);
  const cut = pool.end - nVal;
  const stamp = (p: string): { path: string; size: number; mtime: number } => {
    const s = statSync(p);
    return { path: resolve(p), size: s.size, mtime: Math.round(s.mtimeMs) };
  };
  const identity = JSON.stringify({
    data: stamp(o.data), test: o.test ? stamp(o.test) : null, format: file.format,
    featindex: o.featindex ? stamp(o.featindex) : null, schema: o.schema ? stamp(o.schema) : null, valFraction, testFraction: o.test ? null : testFraction,
  });
  // A generated file's truth (found beside it) enables the feature-selection check.
  const truth = o.truth ?? (existsSync(`${o.data}.truth.json`) ? `${o.data}.truth.json` : undefined);
  let bayesAuc: number | undefined;
  if (o.test && existsSync(`${o.test}.truth.json`)) {
    bayesAuc = (JSON.parse(readFileSync(`${o.test}.truth.json`, "utf8")) as TruthJson).bayes.auc ?? undefined;
  }
  return {
    name: o.name ?? "data", label: o.model.toUpperCase(), model: o.model, format: file.format,
    ...(o.featindex ? { featindex: resolve(o.featindex) } : {}), ...(o.schema ? { schema: resolve(o.schema) } : {}),
    train: { path: resolve(o.data), start: pool.start, end: cut }, val: { path: resolve(o.data), start: cut, end: pool.end }, test,
    trainRows: cut - pool.start, valRows: nVal, testRows,
    ...(truth ? { truth: resolve(truth) } : {}),
    ...(bayesAuc !== undefined ? { bayesAuc } : {}), identity,
  };
}

async function countRows(f: DataFile): Promise<number> {
  let n = 0;
  for await (const b of f.batches()) n += b.rows;
  return n;
}

/** Opens one part of a dataset with its format, featindex and schema. */
export async function openPart(ds: DatasetSpec, part: Part, batchSize: number): Promise<{ file: DataFile; range: { start?: number; end?: number } }> {
  const file = await openData(part.path, {
    batchSize, format: ds.format, ...(ds.featindex ? { featindex: ds.featindex } : {}), ...(ds.schema ? { schema: ds.schema } : {}),
  });
  const range: { start?: number; end?: number } = {};
  if (part.start !== undefined) range.start = part.start;
  if (part.end !== undefined) range.end = part.end;
  return { file, range };
}
