/**
 * A cell is the unit of work of the experiments: one training run (model,
 * optimizer, regularisers, seed) on one dataset, or one magnitude-pruning
 * run (a plain optimizer trained once, pruned to several targets). A cell is
 * plain data, identified by a hash of everything that determines its result,
 * and deterministic by its seed: a cell run in a worker thread, in the main
 * thread, today or after a restart gives the same numbers.
 */
import { createHash } from "node:crypto";
import { buildModel, type TrainSettings } from "../train/model.js";
import { trainModel } from "../train/trainer.js";
import { evaluateModel } from "../train/evaluate.js";
import { openPart, type DatasetSpec } from "./data.js";
import { disposeModel, magnitudePruning, type EvalNumbers, type ModelNumbers, type PrunedResult, type PruneTarget } from "./prune.js";
import { canonicalJson } from "../util/canonical-json.js";

/** Bumped when a change of the code changes cells' results: old stored cells are then not reused. */
export const CELL_VERSION = 1;

export interface TrainCell {
  kind: "train";
  dataset: DatasetSpec;
  settings: TrainSettings;
}

export interface PruneCell {
  kind: "prune";
  dataset: DatasetSpec;
  /** The plain optimizer's settings. */
  settings: TrainSettings;
  targets: PruneTarget[];
  ks: number[];
}

export type CellSpec = TrainCell | PruneCell;

export interface TrainResult extends ModelNumbers {
  kind: "train";
  trainRowsPerSec: number;
  seconds: number;
}

export interface PruneResult {
  kind: "prune";
  base: { val: EvalNumbers; test: EvalNumbers; features: number };
  targets: PrunedResult[];
  seconds: number;
}

export type CellResult = TrainResult | PruneResult;


/** What determines a cell's result: the data's identity (not its paths), settings, targets. */
function identityOf(c: CellSpec): unknown {
  const base = { v: CELL_VERSION, kind: c.kind, data: c.dataset.identity, settings: c.settings };
  return c.kind === "prune" ? { ...base, targets: c.targets, ks: c.ks } : base;
}

/** 16 hex digits of SHA-256 of the cell's identity. */
export function cellId(c: CellSpec): string {
  return createHash("sha256").update(canonicalJson(identityOf(c))).digest("hex").slice(0, 16);
}

/** A short human-readable description: dataset, model, optimizer, regularisers, seed. */
export function cellLabel(c: CellSpec): string {
  const h = c.settings.hyper ?? {};
  const parts = [c.dataset.name, c.settings.model, c.kind === "prune" ? `${c.settings.optimizer}+pruning(${c.targets.length})` : c.settings.optimizer];
  for (const k of ["lr", "l1", "l21", "l2"] as const) if (h[k] !== undefined && (h[k] !== 0 || k === "l21")) parts.push(`${k}=${h[k]}`);
  if (h.l21Norm && h.l21Norm !== "raw") parts.push(h.l21Norm);
  if (c.settings.modelConfig?.embedding !== undefined) parts.push(`emb=${c.settings.modelConfig.embedding}`);
  parts.push(`seed=${c.settings.seed ?? 0}`);
  return parts.join(" ");
}

/** Rough relative cost (for scheduling longest first): rows x model speed x passes. */
export function cellCost(c: CellSpec): number {
  const speed: Record<string, number> = { opnn: 10, deepfm: 12, dcn: 1, mlp: 0.55, lr: 0.2 };
  const emb = c.settings.modelConfig?.embedding;
  const widen = emb !== undefined ? Math.max(1, emb / 8) : 1;
  const passes = c.kind === "prune" ? 1 + c.targets.length * c.ks.reduce((s, k) => s + k, 0) / 100 + 0.1 * c.targets.length * c.ks.length : 1.1;
  return c.dataset.trainRows * (speed[c.settings.model] ?? 1) * widen * passes;
}

/** Runs one cell. */
export async function runCell(c: CellSpec): Promise<CellResult> {
  const t0 = process.hrtime.bigint();
  const seconds = (): number => Number(process.hrtime.bigint() - t0) / 1e9;
  const ds = c.dataset;
  const batch = c.settings.batch ?? 512;
  const train = await openPart(ds, ds.train, batch);
  const val = await openPart(ds, ds.val, 4096);
  const test = await openPart(ds, ds.test, 4096);
  const fields = train.file.fields.length;
  if (c.kind === "train") {
    const m = buildModel(fields, c.settings);
    const r = await trainModel(m, train.file, train.range);
    const v = await evaluateModel(m, val.file, val.range);
    const t = await evaluateModel(m, test.file, test.range);
    const out: TrainResult = {
      kind: "train", val: v, test: t, liveFeatures: m.liveFeatures, features: m.features, featureRate: m.featureRate,
      modelBytes: m.modelBytes, trainRowsPerSec: Math.round(r.rows / r.seconds), sha256: m.sha256(), seconds: 0,
    };
    disposeModel(m);
    out.seconds = +seconds().toFixed(3);
    return out;
  }
  const start = ds.train.start ?? 0, end = ds.train.end ?? start + ds.trainRows;
  const run = await magnitudePruning(c.settings, {
    fields, train: train.file, trainRange: { start, end }, val, test,
  }, c.targets, c.ks);
  return { kind: "prune", base: run.base, targets: run.targets, seconds: +seconds().toFixed(3) };
}
