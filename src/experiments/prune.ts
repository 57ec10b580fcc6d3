/**
 * The paper's baseline (section 4.2): magnitude pruning of whole embedding
 * rows after training with the plain optimizer, in three steps.
 *
 * 1. Train on the first (100 - k)% of the training stream and keep the N rows
 *    of largest l2 norm (every other row becomes exactly +0.0).
 * 2. Fine-tune on the remaining k% (pruned rows get gradients again, and new
 *    features appear: both can bring rows back).
 * 3. Prune again to N, so that the target sparsity is met exactly.
 *
 * k runs over a schedule (the paper's 0, 10, 20, 30) and the best k is chosen
 * by AUC on validation rows (never the test rows). One training pass serves
 * every k: the model is snapshotted at each cut point (70%, 80%, 90%, 100%)
 * and every (target, k) starts from a restored copy.
 */
import { buildModel, type CtrModel, type TrainSettings } from "../train/model.js";
import { trainModel } from "../train/trainer.js";
import { evaluateModel } from "../train/evaluate.js";
import { assembleModel } from "../train/restore.js";
import type { DataFile } from "../data/index.js";

/** A model's complete training state, in memory. */
export interface Snapshot {
  fields: number;
  settings: TrainSettings;
  params: string[];
  tables: Uint8Array[];
  dense: Uint8Array[];
}

export function snapshot(m: CtrModel, fields: number): Snapshot {
  return { fields, settings: m.settings, params: m.params.map((p) => p.name), tables: m.tables.map((t) => t.save()), dense: m.dense.map((d) => d.save()) };
}

/** A model equal to the snapshotted one (weights, optimizer state, step counts). */
export function restore(s: Snapshot): CtrModel {
  return assembleModel(s.settings, s.fields, s.params, s.tables, s.dense, "model snapshot");
}

/** Frees a model's WebAssembly memories. */
export function disposeModel(m: CtrModel): void {
  for (const t of m.tables) t.dispose();
  for (const d of m.dense) d.dispose();
}

/**
 * Zeroes all but the `keep` rows of largest norm in every embedding table of
 * the model (the first-order table of deepfm is pruned to the same features:
 * a feature lives while any of its rows does, so both keep the same count).
 */
export function pruneModel(m: CtrModel, keep: number): void {
  for (const t of m.tables) t.pruneToTopRows(Math.min(keep, t.size));
}

/** The rows where the schedule cuts the training range: k% before its end. */
export function cutPoints(start: number, end: number, ks: readonly number[]): Map<number, number> {
  const n = end - start;
  return new Map(ks.map((k) => [k, start + Math.round((n * (100 - k)) / 100)]));
}

export interface PruneTarget {
  label: string;
  /** Rows (features) to keep. */
  keep: number;
}

export interface EvalNumbers {
  auc: number;
  logloss: number;
  rows: number;
}

/** What a trained (or pruned) model measures: AUC and log loss, size, its hash. */
export interface ModelNumbers {
  val: EvalNumbers;
  test: EvalNumbers;
  liveFeatures: number;
  features: number;
  featureRate: number;
  modelBytes: number;
  sha256: string;
}

export interface PrunedResult extends ModelNumbers {
  label: string;
  keep: number;
  /** Fine-tuning share chosen by validation AUC. */
  chosenK: number;
  /** Validation AUC for every k of the schedule. */
  valAucByK: Record<string, number>;
}

export interface PruningRun {
  /** The plain model trained on all training rows, unpruned. */
  base: { val: EvalNumbers; test: EvalNumbers; features: number };
  targets: PrunedResult[];
}

export interface PruningData {
  fields: number;
  train: DataFile;
  trainRange: { start: number; end: number };
  val: { file: DataFile; range: { start?: number; end?: number } };
  test: { file: DataFile; range: { start?: number; end?: number } };
}

/**
 * Trains `settings` (a plain optimizer) once with snapshots at the cut
 * points, then for each target and each k: restore, prune, fine-tune on the
 * last k%, prune again, evaluate on validation; the best k per target is
 * evaluated on the test rows. `keepModel` receives each target's chosen model
 * before it is disposed (the feature-selection report reads it).
 */
export async function magnitudePruning(
  settings: TrainSettings, d: PruningData, targets: readonly PruneTarget[], ks: readonly number[] = [0, 10, 20, 30],
  keepModel?: (target: PruneTarget, m: CtrModel) => void | Promise<void>,
): Promise<PruningRun> {
  if (settings.optimizer.startsWith("group-") || settings.optimizer === "ftrl") throw new Error(`magnitude pruning is the baseline of a plain optimizer, not ${settings.optimizer}`);
  for (const k of ks) if (!(Number.isInteger(k) && k >= 0 && k < 100)) throw new RangeError(`fine-tuning share k = ${k} must be an integer percentage in [0, 100)`);
  const order = [...new Set(ks)].sort((a, b) => b - a); // largest k first: the earliest cut
  const cuts = cutPoints(d.trainRange.start, d.trainRange.end, order);
  const m = buildModel(d.fields, settings);
  const snaps = new Map<number, Snapshot>();
  let pos = d.trainRange.start;
  for (const k of order) {
    const end = cuts.get(k)!;
    if (end > pos) await trainModel(m, d.train, { start: pos, end });
    pos = end;
    snaps.set(k, snapshot(m, d.fields));
  }
  if (pos < d.trainRange.end) await trainModel(m, d.train, { start: pos, end: d.trainRange.end });
  const base = { val: await evaluateModel(m, d.val.file, d.val.range), test: await evaluateModel(m, d.test.file, d.test.range), features: m.features };
  disposeModel(m);
  const out: PrunedResult[] = [];
  for (const target of targets) {
    let best: { k: number; m: CtrModel; val: EvalNumbers } | undefined;
    const valAucByK: Record<string, number> = {};
    for (const k of [...order].reverse()) {
      const c = restore(snaps.get(k)!);
      pruneModel(c, target.keep);
      if (k > 0) await trainModel(c, d.train, { start: cuts.get(k)!, end: d.trainRange.end });
      pruneModel(c, target.keep);
      const val = await evaluateModel(c, d.val.file, d.val.range);
      valAucByK[String(k)] = val.auc;
      if (!best || val.auc > best.val.auc) {
        if (best) disposeModel(best.m);
        best = { k, m: c, val };
      } else {
        disposeModel(c);
      }
    }
    const b = best!;
    const test = await evaluateModel(b.m, d.test.file, d.test.range);
    out.push({
      label: target.label, keep: target.keep, chosenK: b.k, valAucByK, val: b.val, test,
      liveFeatures: b.m.liveFeatures, features: b.m.features, featureRate: b.m.featureRate, modelBytes: b.m.modelBytes, sha256: b.m.sha256(),
    });
    await keepModel?.(target, b.m);
    disposeModel(b.m);
  }
  return { base, targets: out };
}
