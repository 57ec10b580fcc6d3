/**
 * `sparsectr tune`: the l21 that meets a sparsity or size budget with the
 * best validation AUC, in a few training runs, and what it selects.
 *
 * The number of live features falls as l21 grows (the sparsity curve is
 * monotone, up to training noise), and AUC usually falls with it, so the
 * best model under a budget sits just inside the budget. The search finds
 * that point by bracketing and bisection in log l21: first steps of 10x
 * until one run meets the budget and one does not, then points inside the
 * bracket placed by interpolation of log(live features) against log(l21)
 * (safeguarded to stay in the inner 80% of the bracket, so it never stalls),
 * until a run lands in the band [(1 - tolerance) budget, budget]. Of the runs
 * in the band (or, if none got there in maxRuns, of those meeting the
 * budget), the one with the best validation AUC is chosen. The test rows are
 * evaluated for the chosen model only.
 */
import type { Hyperparams, OptimizerName } from "../optim/hyper.js";
import { buildModel, plainOf, type CtrModel, type TrainSettings } from "../train/model.js";
import { trainModel } from "../train/trainer.js";
import { evaluateModel } from "../train/evaluate.js";
import { openPart, type DatasetSpec } from "./data.js";
import { indexFeatures, selectionReport, type SelectionReport } from "./features.js";
import { disposeModel, magnitudePruning, type PrunedResult } from "./prune.js";

export type Budget = { featureRate: number } | { modelBytes: number };

export interface TuneOptions {
  dataset: DatasetSpec;
  optimizer?: OptimizerName;
  /** Other hyperparameters (lr, l1, l2, l21Norm); l21 is searched. */
  hyper?: Hyperparams;
  modelConfig?: TrainSettings["modelConfig"];
  seed?: number;
  budget: Budget;
  /** Relative band under the budget that ends the search (default 0.1). */
  tolerance?: number;
  maxRuns?: number;
  /** First l21 tried (default 1e-3). */
  start?: number;
  /** Also run the magnitude-pruning baseline at the chosen model's feature count (default true). */
  pruning?: boolean;
  ks?: number[];
  /** Per-field report (reads the training rows once more; default true). */
  features?: boolean;
  log?: (line: string) => void;
}

export interface TuneRun {
  l21: number;
  liveFeatures: number;
  features: number;
  featureRate: number;
  modelBytes: number;
  valAuc: number;
  meets: boolean;
  inBand: boolean;
  seconds: number;
}

export interface TuneResult {
  dataset: string;
  model: string;
  optimizer: OptimizerName;
  budget: Budget;
  /** The budget as a number of live features. */
  maxLive: number;
  tolerance: number;
  runs: TuneRun[];
  chosen: TuneRun & { test: { auc: number; logloss: number } };
  /** True when the chosen run is within the band. */
  withinTolerance: boolean;
  pruning?: PrunedResult;
  selection?: SelectionReport;
}

export async function tune(o: TuneOptions): Promise<TuneResult> {
  const ds = o.dataset, log = o.log ?? (() => undefined);
  const optimizer = o.optimizer ?? "group-adam";
  if (!optimizer.startsWith("group-")) throw new Error(`tune searches l21 of a group-* optimizer, not ${optimizer}`);
  const tol = o.tolerance ?? 0.1, maxRuns = o.maxRuns ?? 10;
  if (!(tol > 0 && tol < 1)) throw new RangeError(`tolerance ${tol} must be in (0, 1)`);
  if ("featureRate" in o.budget && !(o.budget.featureRate > 0 && o.budget.featureRate <= 1)) throw new RangeError(`target feature rate ${o.budget.featureRate} must be in (0, 1]`);
  if ("modelBytes" in o.budget && !(o.budget.modelBytes > 0)) throw new RangeError(`model bytes ${o.budget.modelBytes} must be positive`);
  const seed = o.seed ?? 1;
  const settings = (l21: number): TrainSettings => ({
    model: ds.model, optimizer, hyper: { ...(o.hyper ?? {}), l21 }, seed, ...(o.modelConfig ? { modelConfig: o.modelConfig } : {}),
  });
  const train = await openPart(ds, ds.train, 512);
  const val = await openPart(ds, ds.val, 4096);
  const test = await openPart(ds, ds.test, 4096);
  const fields = train.file.fields.length;
  let maxLive = -1;
  const runs: TuneRun[] = [];
  const models = new Map<TuneRun, CtrModel>();
  const runAt = async (l21: number): Promise<TuneRun> => {
    const t0 = Date.now();
    const m = buildModel(fields, settings(l21));
    await trainModel(m, train.file, train.range);
    if (maxLive < 0) maxLive = budgetToLive(m, o.budget);
    const v = await evaluateModel(m, val.file, val.range);
    const r: TuneRun = {
      l21, liveFeatures: m.liveFeatures, features: m.features, featureRate: m.featureRate, modelBytes: m.modelBytes, valAuc: v.auc,
      meets: m.liveFeatures <= maxLive, inBand: m.liveFeatures <= maxLive && m.liveFeatures >= (1 - tol) * maxLive, seconds: (Date.now() - t0) / 1000,
    };
    runs.push(r);
    log(`run ${runs.length}: l21 ${l21.toPrecision(4)}: ${r.liveFeatures} live features (rate ${r.featureRate.toPrecision(4)}, ${r.modelBytes} bytes), validation AUC ${r.valAuc.toFixed(4)}${r.inBand ? " (in the band)" : r.meets ? " (meets the budget)" : ""}`);
    // Keep the models that may be chosen (in the band); free the others.
    if (r.inBand) models.set(r, m); else disposeModel(m);
    return r;
  };
  const lnLive = (r: TuneRun): number => Math.log(Math.max(r.liveFeatures, 0.5));
  let x = o.start ?? 1e-3;
  if (!(x > 0)) throw new RangeError(`start l21 ${x} must be positive`);
  let lo: TuneRun | undefined, hi: TuneRun | undefined; // lo: too dense (live > budget), hi: meets it
  while (runs.length < maxRuns) {
    const r = await runAt(x);
    if (r.inBand) break;
    if (r.meets) { if (!hi || r.l21 < hi.l21) hi = r; } else if (!lo || r.l21 > lo.l21) lo = r;
    if (!hi) { x = lo!.l21 * 10; continue; }
    if (!lo) { x = hi.l21 / 10; continue; }
    const a = Math.log(lo.l21), b = Math.log(hi.l21);
    const goal = Math.log(maxLive * (1 - tol / 2));
    const ya = lnLive(lo), yb = lnLive(hi);
    let u = ya !== yb ? (ya - goal) / (ya - yb) : 0.5;
    if (!Number.isFinite(u)) u = 0.5;
    u = Math.min(0.9, Math.max(0.1, u));
    x = Math.exp(a + u * (b - a));
  }
  const band = runs.filter((r) => r.inBand), meets = runs.filter((r) => r.meets);
  const pool = band.length ? band : meets;
  if (!pool.length) throw new Error(`no l21 up to ${Math.max(...runs.map((r) => r.l21))} met the budget of ${maxLive} live features in ${runs.length} runs (raise --max-runs)`);
  const best = pool.reduce((p, q) => (q.valAuc > p.valAuc ? q : p));
  // The chosen model: kept when in the band; otherwise trained again (deterministic by its seed).
  let m = models.get(best);
  for (const [r, mm] of models) if (r !== best) disposeModel(mm);
  if (!m) {
    m = buildModel(fields, settings(best.l21));
    await trainModel(m, train.file, train.range);
  }
  const t = await evaluateModel(m, test.file, test.range);
  const result: TuneResult = {
    dataset: ds.name, model: ds.model, optimizer, budget: o.budget, maxLive, tolerance: tol, runs,
    chosen: { ...best, test: { auc: t.auc, logloss: t.logloss } }, withinTolerance: best.inBand,
  };
  log(`chosen l21 ${best.l21.toPrecision(4)}: ${best.liveFeatures} live features, validation AUC ${best.valAuc.toFixed(4)}, test AUC ${t.auc.toFixed(4)}`);
  const emb = m.tables[m.tables.length - 1];
  const index = o.features !== false ? await indexFeatures(ds) : undefined;
  if (o.pruning !== false) {
    log(`magnitude pruning of ${plainOf(optimizer)} to ${best.liveFeatures} features...`);
    const plain: TrainSettings = { ...settings(0), optimizer: plainOf(optimizer), hyper: pickPlain(o.hyper ?? {}) };
    const run = await magnitudePruning(plain, { fields, train: train.file, trainRange: { start: ds.train.start ?? 0, end: ds.train.end ?? (ds.train.start ?? 0) + ds.trainRows }, val, test },
      [{ label: "tune", keep: best.liveFeatures }], o.ks ?? [0, 10, 20, 30], (_t, pm) => {
        if (index) result.selection = selectionReport(index, [{ name: "group lasso", table: emb }, { name: "magnitude pruning", table: pm.tables[pm.tables.length - 1] }]);
      });
    result.pruning = run.targets[0];
  } else if (index) {
    result.selection = selectionReport(index, [{ name: "group lasso", table: emb }]);
  }
  disposeModel(m);
  return result;
}

/** The budget as the largest number of live features. */
export function budgetToLive(m: CtrModel, b: Budget): number {
  if ("featureRate" in b) return Math.floor(b.featureRate * m.features + 1e-9);
  let dense = 0;
  for (const p of m.params) dense += p.value.length * 4;
  const perFeature = m.tables.reduce((s, t) => s + 8 + 4 * t.rowLength, 0);
  return Math.max(0, Math.floor((b.modelBytes - dense) / perFeature));
}

function pickPlain(h: Hyperparams): Hyperparams {
  const o: Hyperparams = {};
  for (const k of ["lr", "beta1", "beta2", "epsilon", "momentum", "rowStep", "initialAccumulator"] as const) if (h[k] !== undefined) (o as Record<string, unknown>)[k] = h[k];
  return o;
}
