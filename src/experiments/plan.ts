/**
 * The paper's experiments (section 4) as cells and as the tables and figures
 * built from their results: which cells each experiment needs (`planJobs`),
 * and how their per-seed numbers become means, standard deviations and
 * Welch t-tests (`aggregate`). Reported AUCs are on the test rows; the
 * validation rows only choose (the pruning baseline's fine-tuning share).
 */
import { MODEL_PRESETS } from "../models/index.js";
import type { Hyperparams, OptimizerName } from "../optim/hyper.js";
import type { TrainSettings } from "../train/model.js";
import { cellId, type CellResult, type CellSpec, type PruneResult, type TrainResult } from "./cells.js";
import type { DatasetSpec } from "./data.js";
import type { Job } from "./runner.js";
import { mean, sampleSd, welchTTest } from "./stats.js";

export const SECTIONS = ["table2", "table3", "table4", "fig1", "fig2", "fig3"] as const;
export type Section = (typeof SECTIONS)[number];
export const EXPERIMENTS = [...SECTIONS, "paper"] as const;
export type ExperimentName = (typeof EXPERIMENTS)[number];

export function sectionsOf(name: ExperimentName): Section[] {
  return name === "paper" ? [...SECTIONS] : [name];
}

/** Regularisers of one optimizer in Table 3. */
export type Regs = Pick<Hyperparams, "l1" | "l21" | "l2">;

export interface PlanConfig {
  seeds: number[];
  /** Datasets of Tables 2 and 3 and Fig. 1. */
  datasets: DatasetSpec[];
  /** Dataset of Table 4 and Figs. 2 and 3 (the paper: DCN on Criteo). */
  detail: DatasetSpec;
  /** l21 of Group Adam in Table 2 / Fig. 1 (l1 = l2 = 0). */
  l21Grid: number[];
  /** l21 of Fig. 2, for both norms. */
  fig2Grid: number[];
  /** Strengths of Fig. 3 (l1 alone and l21 alone). */
  fig3Grid: number[];
  /** Fine-tuning shares of the pruning baseline, percent. */
  ks: number[];
  lr: { adam: number; adagrad: number };
  /** Table 3's regularisers per dataset name (missing: `defaultChosen`). */
  chosen: Record<string, { groupAdam: Regs; groupAdagrad: Regs }>;
  /** Embedding widths of Table 4. */
  embeddings: number[];
}

/** Table 3's regularisers when a dataset has none of its own (chosen on generated data, see docs/experiments.md). */
export const DEFAULT_CHOSEN: { groupAdam: Regs; groupAdagrad: Regs } = {
  groupAdam: { l1: 0, l21: 3e-4, l2: 1e-5 },
  groupAdagrad: { l1: 0, l21: 1e-3, l2: 1e-5 },
};

export const DEFAULTS = {
  l21Grid: [1e-4, 5e-4, 1e-3, 5e-3, 1e-2],
  fig2Grid: [1e-4, 5e-4, 1e-3, 5e-3, 1e-2],
  fig3Grid: [1e-4, 5e-4, 1e-3, 5e-3, 1e-2],
  ks: [0, 10, 20, 30],
  lr: { adam: 1e-3, adagrad: 1e-2 },
  // The paper's 32 does not fit DCN on Criteo here: its cross layers hold a
  // 1 x (39 x 32 = 1248) bias row, over the 1024-float row limit of dense
  // parameters (MAX_ROW in src/kernels/layout.ts). 24 (936) is the widest that fits.
  embeddings: [4, 8, 16, 32],
};

// ---------------------------------------------------------------- cells

function cleanHyper(h: Hyperparams): Hyperparams {
  // Zero regularisers and the default norm are left out, so equal runs of
  // different experiments are the same cell.
  const o: Hyperparams = {};
  for (const [k, v] of Object.entries(h) as [keyof Hyperparams, unknown][]) {
    if (v === undefined) continue;
    if ((k === "l1" || k === "l2") && v === 0) continue;
    if (k === "l21Norm" && v === "raw") continue;
    (o as Record<string, unknown>)[k] = v;
  }
  return o;
}

function lrOf(cfg: PlanConfig, opt: OptimizerName): number {
  return opt.includes("adagrad") ? cfg.lr.adagrad : cfg.lr.adam;
}

export function trainSpec(cfg: PlanConfig, ds: DatasetSpec, optimizer: OptimizerName, hyper: Hyperparams, seed: number, embedding?: number): CellSpec {
  const settings: TrainSettings = { model: ds.model, optimizer, hyper: cleanHyper({ lr: lrOf(cfg, optimizer), ...hyper }), seed };
  if (embedding !== undefined && embedding !== MODEL_PRESETS[ds.model].embedding) settings.modelConfig = { embedding };
  return { kind: "train", dataset: ds, settings };
}

const groupAdamL21 = (cfg: PlanConfig, ds: DatasetSpec, l21: number, seed: number): CellSpec => trainSpec(cfg, ds, "group-adam", { l21 }, seed);
const chosenOf = (cfg: PlanConfig, ds: DatasetSpec): { groupAdam: Regs; groupAdagrad: Regs } => cfg.chosen[ds.name] ?? chosenDefault(ds.name);

/** Per generated dataset (chosen by validation AUC in a pilot, docs/experiments.md); other data: DEFAULT_CHOSEN. */
export const CHOSEN_BY_DATASET: Record<string, { groupAdam: Regs; groupAdagrad: Regs }> = {
  criteo: { groupAdam: { l1: 1e-4, l21: 3e-4, l2: 1e-5 }, groupAdagrad: { l1: 0, l21: 3e-3, l2: 1e-5 } },
  avazu: { groupAdam: { l1: 0, l21: 3e-4, l2: 1e-5 }, groupAdagrad: { l1: 0, l21: 1e-3, l2: 1e-5 } },
  ipinyou: { groupAdam: { l1: 0, l21: 3e-4, l2: 1e-5 }, groupAdagrad: { l1: 0, l21: 1e-3, l2: 1e-5 } },
};

export function chosenDefault(name: string): { groupAdam: Regs; groupAdagrad: Regs } {
  return CHOSEN_BY_DATASET[name] ?? DEFAULT_CHOSEN;
}

/** Adam + magnitude pruning to the feature counts Group Adam reached with the same seed, one per l21 of the grid. */
function pruneJob(cfg: PlanConfig, ds: DatasetSpec, seed: number): Extract<Job, { key: string }> {
  const deps = cfg.l21Grid.map((l21) => groupAdamL21(cfg, ds, l21, seed));
  return {
    key: `prune:${deps.map(cellId).join(",")}:${cfg.ks.join(",")}`,
    deps,
    build: (rs) => ({
      kind: "prune", dataset: ds,
      settings: { model: ds.model, optimizer: "adam", hyper: { lr: cfg.lr.adam }, seed },
      targets: cfg.l21Grid.map((l21, i) => ({ label: `l21=${l21}`, keep: (rs[i] as TrainResult).liveFeatures })),
      ks: [...cfg.ks],
    }),
  };
}

/** Every cell the sections need (shared cells appear once in the runner). */
export function planJobs(sections: readonly Section[], cfg: PlanConfig): Job[] {
  const jobs: Job[] = [];
  const add = (spec: CellSpec): void => { jobs.push({ spec }); };
  for (const s of sections) {
    for (const seed of cfg.seeds) {
      if (s === "table2" || s === "fig1") {
        for (const ds of cfg.datasets) {
          for (const l21 of cfg.l21Grid) add(groupAdamL21(cfg, ds, l21, seed));
          jobs.push(pruneJob(cfg, ds, seed));
        }
      } else if (s === "table3") {
        for (const ds of cfg.datasets) {
          const c = chosenOf(cfg, ds);
          add(trainSpec(cfg, ds, "adam", {}, seed));
          add(trainSpec(cfg, ds, "group-adam", c.groupAdam, seed));
          add(trainSpec(cfg, ds, "adagrad", {}, seed));
          add(trainSpec(cfg, ds, "group-adagrad", c.groupAdagrad, seed));
        }
      } else if (s === "table4") {
        for (const e of cfg.embeddings) add(trainSpec(cfg, cfg.detail, "group-adam", chosenOf(cfg, cfg.detail).groupAdam, seed, e));
      } else if (s === "fig2") {
        for (const l21 of cfg.fig2Grid) {
          add(trainSpec(cfg, cfg.detail, "group-adam", { l21 }, seed));
          add(trainSpec(cfg, cfg.detail, "group-adam", { l21, l21Norm: "scaled" }, seed));
        }
      } else if (s === "fig3") {
        for (const v of cfg.fig3Grid) {
          add(trainSpec(cfg, cfg.detail, "group-adam", { l1: v }, seed));
          add(trainSpec(cfg, cfg.detail, "group-adam", { l21: v }, seed));
        }
      }
    }
  }
  return jobs;
}

// ---------------------------------------------------------------- statistics

/** Mean, sample standard deviation (null for one value) and the per-seed values. */
export interface Stat {
  mean: number;
  sd: number | null;
  n: number;
  values: number[];
}

/** Welch's two-sided t-test (null with fewer than 2 values on a side). */
export type TTest = { t: number; df: number; p: number } | null;

export function stat(values: number[]): Stat {
  return { mean: mean(values), sd: values.length > 1 ? sampleSd(values) : null, n: values.length, values };
}

export function ttest(a: number[], b: number[]): TTest {
  if (a.length < 2 || b.length < 2) return null;
  const r = welchTTest(a, b);
  return { t: r.t, df: r.df, p: r.p };
}

/** An optimizer's numbers over the seeds. */
export interface Arm {
  auc: Stat;
  logloss: Stat;
  featureRate: Stat;
  liveFeatures: Stat;
  modelBytes: Stat;
}

function arm(rs: TrainResult[]): Arm {
  return {
    auc: stat(rs.map((r) => r.test.auc)), logloss: stat(rs.map((r) => r.test.logloss)),
    featureRate: stat(rs.map((r) => r.featureRate)), liveFeatures: stat(rs.map((r) => r.liveFeatures)), modelBytes: stat(rs.map((r) => r.modelBytes)),
  };
}

export interface Table2Row {
  dataset: string;
  label: string;
  l21: number;
  adamPruned: Arm & { chosenK: number[] };
  groupAdam: Arm;
  /** Welch t-test of the test AUCs, Group Adam vs Adam + pruning. */
  pAuc: TTest;
}

export interface Table3Row {
  dataset: string;
  label: string;
  adam: Arm;
  groupAdam: Arm;
  adagrad: Arm;
  groupAdagrad: Arm;
  regs: { groupAdam: Regs; groupAdagrad: Regs };
  adamVsGroupAdam: { auc: TTest; featureRate: TTest };
  adagradVsGroupAdagrad: { auc: TTest; featureRate: TTest };
}

export interface Table4Row {
  embedding: number;
  groupAdam: Arm;
  /** Against the previous (smaller) width. */
  vsPrevious: { featureRate: TTest; auc: TTest } | null;
}

export interface CurvePoint {
  /** The regulariser's value. */
  strength: number;
  featureRate: Stat;
  auc: Stat;
}

export interface Fig2Comparison {
  l21: number;
  featureRate: Stat;
  raw: Stat;
  /** The scaled curve of the same seed, interpolated (linearly in log feature rate) at the raw run's feature rate. */
  scaledAtSameRate: Stat | null;
  p: number | null;
}

export interface Results {
  experiment: ExperimentName;
  sections: Section[];
  settings: {
    seeds: number[];
    l21Grid: number[];
    fig2Grid: number[];
    fig3Grid: number[];
    ks: number[];
    lr: { adam: number; adagrad: number };
    embeddings: number[];
    datasets: { name: string; label: string; model: string; format: string; trainRows: number; valRows: number; testRows: number; bayesAuc: number | null }[];
    detail: string;
  };
  table2?: { rows: Table2Row[] };
  table3?: { rows: Table3Row[] };
  table4?: { dataset: string; label: string; regs: Regs; rows: Table4Row[] };
  fig1?: { panels: { dataset: string; label: string; groupAdam: CurvePoint[]; adamPruned: CurvePoint[] }[] };
  fig2?: { dataset: string; label: string; raw: CurvePoint[]; scaled: CurvePoint[]; comparisons: Fig2Comparison[] };
  fig3?: { dataset: string; label: string; l1: CurvePoint[]; l21: CurvePoint[]; pFeatureRate: (number | null)[] };
  claims: Claim[];
  run?: { cells: number; ran: number; skipped: number; seconds: number; cellSeconds: number; jobs: number };
  figures?: Record<string, { svg: string; png?: string; width?: number; height?: number }>;
}

export interface Claim {
  id: number;
  claim: string;
  source: string;
  verdict: "holds" | "partly" | "does not hold" | "not run";
  evidence: string;
}

// ---------------------------------------------------------------- aggregation

export function aggregate(name: ExperimentName, cfg: PlanConfig, results: Map<string, CellResult>): Results {
  const sections = sectionsOf(name);
  const get = (spec: CellSpec): TrainResult => {
    const r = results.get(cellId(spec));
    if (!r || r.kind !== "train") throw new Error(`internal: no result for a cell of ${spec.dataset.name}`);
    return r;
  };
  const prunes = (ds: DatasetSpec): PruneResult[] => cfg.seeds.map((seed) => {
    const r = results.get(pruneJob(cfg, ds, seed).key);
    if (!r || r.kind !== "prune") throw new Error(`internal: no pruning result for ${ds.name} seed ${seed}`);
    return r;
  });
  const out: Results = {
    experiment: name, sections,
    settings: {
      seeds: cfg.seeds, l21Grid: cfg.l21Grid, fig2Grid: cfg.fig2Grid, fig3Grid: cfg.fig3Grid, ks: cfg.ks, lr: cfg.lr, embeddings: cfg.embeddings,
      datasets: uniqueDatasets(cfg, sections).map((d) => ({
        name: d.name, label: d.label, model: d.model, format: d.format, trainRows: d.trainRows, valRows: d.valRows, testRows: d.testRows, bayesAuc: d.bayesAuc ?? null,
      })),
      detail: cfg.detail.name,
    },
    claims: [],
  };
  const curve = (ds: DatasetSpec, grid: number[], hyper: (v: number) => Hyperparams): CurvePoint[] => grid.map((v) => {
    const rs = cfg.seeds.map((seed) => get(trainSpec(cfg, ds, "group-adam", hyper(v), seed)));
    return { strength: v, featureRate: stat(rs.map((r) => r.featureRate)), auc: stat(rs.map((r) => r.test.auc)) };
  });
  if (sections.includes("table2") || sections.includes("fig1")) {
    const rows: Table2Row[] = [];
    const panels: NonNullable<Results["fig1"]>["panels"] = [];
    for (const ds of cfg.datasets) {
      const pr = prunes(ds);
      const gaPts: CurvePoint[] = [], apPts: CurvePoint[] = [];
      cfg.l21Grid.forEach((l21, i) => {
        const ga = arm(cfg.seeds.map((seed) => get(groupAdamL21(cfg, ds, l21, seed))));
        const ts = pr.map((p) => p.targets[i]);
        const ap = {
          auc: stat(ts.map((t) => t.test.auc)), logloss: stat(ts.map((t) => t.test.logloss)), featureRate: stat(ts.map((t) => t.featureRate)),
          liveFeatures: stat(ts.map((t) => t.liveFeatures)), modelBytes: stat(ts.map((t) => t.modelBytes)), chosenK: ts.map((t) => t.chosenK),
        };
        rows.push({ dataset: ds.name, label: ds.label, l21, adamPruned: ap, groupAdam: ga, pAuc: ttest(ga.auc.values, ap.auc.values) });
        gaPts.push({ strength: l21, featureRate: ga.featureRate, auc: ga.auc });
        apPts.push({ strength: l21, featureRate: ap.featureRate, auc: ap.auc });
      });
      panels.push({ dataset: ds.name, label: ds.label, groupAdam: gaPts, adamPruned: apPts });
    }
    if (sections.includes("table2")) out.table2 = { rows };
    if (sections.includes("fig1")) out.fig1 = { panels };
  }
  if (sections.includes("table3")) {
    out.table3 = {
      rows: cfg.datasets.map((ds) => {
        const c = chosenOf(cfg, ds);
        const a = (opt: OptimizerName, h: Hyperparams): Arm => arm(cfg.seeds.map((seed) => get(trainSpec(cfg, ds, opt, h, seed))));
        const adam = a("adam", {}), groupAdam = a("group-adam", c.groupAdam), adagrad = a("adagrad", {}), groupAdagrad = a("group-adagrad", c.groupAdagrad);
        return {
          dataset: ds.name, label: ds.label, adam, groupAdam, adagrad, groupAdagrad, regs: c,
          adamVsGroupAdam: { auc: ttest(groupAdam.auc.values, adam.auc.values), featureRate: ttest(groupAdam.featureRate.values, adam.featureRate.values) },
          adagradVsGroupAdagrad: { auc: ttest(groupAdagrad.auc.values, adagrad.auc.values), featureRate: ttest(groupAdagrad.featureRate.values, adagrad.featureRate.values) },
        };
      }),
    };
  }
  if (sections.includes("table4")) {
    const ds = cfg.detail, regs = chosenOf(cfg, ds).groupAdam;
    const rows: Table4Row[] = [];
    for (const e of cfg.embeddings) {
      const ga = arm(cfg.seeds.map((seed) => get(trainSpec(cfg, ds, "group-adam", regs, seed, e))));
      const prev = rows[rows.length - 1];
      rows.push({
        embedding: e, groupAdam: ga,
        vsPrevious: prev ? { featureRate: ttest(ga.featureRate.values, prev.groupAdam.featureRate.values), auc: ttest(ga.auc.values, prev.groupAdam.auc.values) } : null,
      });
    }
    out.table4 = { dataset: ds.name, label: ds.label, regs, rows };
  }
  if (sections.includes("fig2")) {
    const ds = cfg.detail;
    const raw = curve(ds, cfg.fig2Grid, (v) => ({ l21: v }));
    const scaled = curve(ds, cfg.fig2Grid, (v) => ({ l21: v, l21Norm: "scaled" }));
    const comparisons: Fig2Comparison[] = cfg.fig2Grid.map((l21, i) => {
      const interp: number[] = [];
      cfg.seeds.forEach((_, s) => {
        const pts = scaled.map((p) => ({ x: p.featureRate.values[s], y: p.auc.values[s] }));
        const y = interpolateLog(pts, raw[i].featureRate.values[s]);
        if (y !== null) interp.push(y);
      });
      const sc = interp.length ? stat(interp) : null;
      const t = sc && interp.length === cfg.seeds.length ? ttest(raw[i].auc.values, interp) : null;
      return { l21, featureRate: raw[i].featureRate, raw: raw[i].auc, scaledAtSameRate: sc, p: t ? t.p : null };
    });
    out.fig2 = { dataset: ds.name, label: ds.label, raw, scaled, comparisons };
  }
  if (sections.includes("fig3")) {
    const ds = cfg.detail;
    const l1 = curve(ds, cfg.fig3Grid, (v) => ({ l1: v }));
    const l21 = curve(ds, cfg.fig3Grid, (v) => ({ l21: v }));
    out.fig3 = { dataset: ds.name, label: ds.label, l1, l21, pFeatureRate: l1.map((p, i) => ttest(l21[i].featureRate.values, p.featureRate.values)?.p ?? null) };
  }
  out.claims = judgeClaims(out);
  return out;
}

function uniqueDatasets(cfg: PlanConfig, sections: Section[]): DatasetSpec[] {
  const list: DatasetSpec[] = [];
  if (sections.some((s) => s === "table2" || s === "table3" || s === "fig1")) list.push(...cfg.datasets);
  if (sections.some((s) => s === "table4" || s === "fig2" || s === "fig3") && !list.some((d) => d.identity === cfg.detail.identity)) list.push(cfg.detail);
  return list;
}

/**
 * y at x on the piecewise-linear curve through pts in (log x, y); null when
 * x is outside the curve's range of x (no extrapolation).
 */
export function interpolateLog(pts: { x: number; y: number }[], x: number): number | null {
  const p = pts.filter((q) => q.x > 0 && Number.isFinite(q.y)).sort((a, b) => a.x - b.x);
  if (!(x > 0) || p.length === 0) return null;
  if (x < p[0].x || x > p[p.length - 1].x) return null;
  for (let i = 0; i < p.length; i++) {
    if (p[i].x === x) return p[i].y;
    if (i + 1 < p.length && p[i].x < x && x < p[i + 1].x) {
      const a = Math.log(p[i].x), b = Math.log(p[i + 1].x), u = (Math.log(x) - a) / (b - a);
      return p[i].y + u * (p[i + 1].y - p[i].y);
    }
  }
  return null;
}

// ---------------------------------------------------------------- the paper's claims

/** Significance level of the verdicts (the paper reports significance at 90% confidence). */
export const ALPHA = 0.1;
/** "Highly competitive": an AUC below the baseline's by at most this much, when significant. */
export const COMPETITIVE_AUC = 0.001;

const f4 = (x: number): string => x.toFixed(4);
const pStr = (p: number | null | undefined): string => (p === null || p === undefined ? "n/a" : p < 1e-4 ? p.toExponential(1) : p.toPrecision(2));

/** The five claims of section 4, judged by fixed rules on the numbers (docs/experiments.md). */
export function judgeClaims(r: Results): Claim[] {
  const claims: Claim[] = [];
  const t2 = r.table2?.rows ?? r.fig1?.panels.flatMap((p) => p.groupAdam.map((g, i) => ({
    dataset: p.dataset, label: p.label, l21: g.strength, groupAdam: { auc: g.auc, featureRate: g.featureRate }, adamPruned: { auc: p.adamPruned[i].auc, featureRate: p.adamPruned[i].featureRate },
    pAuc: ttest(g.auc.values, p.adamPruned[i].auc.values),
  })));
  {
    const c: Claim = { id: 1, claim: "At the same feature rate, Group Adam has a better AUC than Adam with magnitude pruning, significantly so at extreme sparsity (feature rate < 5%).", source: "Table 2, Fig. 1", verdict: "not run", evidence: "" };
    if (t2 && t2.length) {
      const better = t2.filter((x) => x.groupAdam.auc.mean > x.adamPruned.auc.mean);
      const sig = t2.filter((x) => x.pAuc && x.pAuc.p < ALPHA);
      const sigBetter = sig.filter((x) => x.groupAdam.auc.mean > x.adamPruned.auc.mean);
      const sigWorse = sig.filter((x) => x.groupAdam.auc.mean < x.adamPruned.auc.mean);
      const ext = t2.filter((x) => x.groupAdam.featureRate.mean < 0.05);
      const extSigBetter = ext.filter((x) => x.pAuc && x.pAuc.p < ALPHA && x.groupAdam.auc.mean > x.adamPruned.auc.mean);
      c.verdict = ext.length > 0 && extSigBetter.length * 2 > ext.length && sigWorse.length === 0 ? "holds"
        : better.length * 2 > t2.length && sigWorse.length <= sigBetter.length ? "partly" : "does not hold";
      c.evidence = `Group Adam better in ${better.length} of ${t2.length} comparisons, significantly (p < ${ALPHA}) in ${sigBetter.length}, significantly worse in ${sigWorse.length}; ` +
        `at feature rate < 5%: significantly better in ${extSigBetter.length} of ${ext.length}.`;
    }
    claims.push(c);
  }
  {
    const c: Claim = { id: 2, claim: "Without pruning, Group Adam and Group Adagrad reach a very small feature rate with an AUC significantly better than or highly competitive with Adam and Adagrad.", source: "Table 3", verdict: "not run", evidence: "" };
    if (r.table3) {
      const pairs = r.table3.rows.flatMap((x) => [
        { name: `${x.label} Group Adam`, g: x.groupAdam, b: x.adam, t: x.adamVsGroupAdam.auc },
        { name: `${x.label} Group Adagrad`, g: x.groupAdagrad, b: x.adagrad, t: x.adagradVsGroupAdagrad.auc },
      ]);
      const ok = pairs.filter((q) => q.g.featureRate.mean < 0.2 && (q.g.auc.mean >= q.b.auc.mean || !q.t || q.t.p >= ALPHA || q.b.auc.mean - q.g.auc.mean <= COMPETITIVE_AUC));
      c.verdict = ok.length === pairs.length ? "holds" : ok.length * 2 >= pairs.length ? "partly" : "does not hold";
      c.evidence = pairs.map((q) => `${q.name}: rate ${q.g.featureRate.mean.toPrecision(2)}, AUC ${q.g.auc.mean >= q.b.auc.mean ? "+" : ""}${f4(q.g.auc.mean - q.b.auc.mean)} (p ${pStr(q.t?.p)})`).join("; ") + ".";
    }
    claims.push(c);
  }
  {
    const c: Claim = { id: 3, claim: "The practical rule (l21 threshold on the norm of s_t, `raw`) gives a better AUC than the one on the norm of s~_t (`scaled`) at the same sparsity.", source: "Fig. 2", verdict: "not run", evidence: "" };
    if (r.fig2) {
      const cmp = r.fig2.comparisons.filter((x) => x.scaledAtSameRate !== null);
      const better = cmp.filter((x) => x.raw.mean > x.scaledAtSameRate!.mean);
      const sigBetter = better.filter((x) => x.p !== null && x.p < ALPHA);
      const sigWorse = cmp.filter((x) => x.raw.mean < x.scaledAtSameRate!.mean && x.p !== null && x.p < ALPHA);
      c.verdict = cmp.length === 0 ? "not run" : sigBetter.length * 2 > cmp.length && sigWorse.length === 0 ? "holds" : better.length * 2 > cmp.length ? "partly" : "does not hold";
      c.evidence = cmp.length === 0 ? "the two curves do not overlap in feature rate" :
        `raw better in ${better.length} of ${cmp.length} matched points, significantly in ${sigBetter.length}, significantly worse in ${sigWorse.length}.`;
    }
    claims.push(c);
  }
  {
    const c: Claim = { id: 4, claim: "At the same strength, l21 alone produces far more sparsity (a lower feature rate) than l1 alone.", source: "Fig. 3", verdict: "not run", evidence: "" };
    if (r.fig3) {
      const f = r.fig3;
      const lower = f.l21.filter((p, i) => p.featureRate.mean < f.l1[i].featureRate.mean);
      const sig = f.l21.filter((p, i) => p.featureRate.mean < f.l1[i].featureRate.mean && f.pFeatureRate[i] !== null && f.pFeatureRate[i]! < ALPHA);
      c.verdict = sig.length === f.l21.length ? "holds" : lower.length * 2 > f.l21.length ? "partly" : "does not hold";
      c.evidence = f.l21.map((p, i) => `${p.strength}: l21 ${p.featureRate.mean.toPrecision(2)} vs l1 ${f.l1[i].featureRate.mean.toPrecision(2)} (p ${pStr(f.pFeatureRate[i])})`).join("; ") + ".";
    }
    claims.push(c);
  }
  {
    const c: Claim = { id: 5, claim: "With the same regularisers, the feature rate falls (sparsity grows) as the embedding dimension grows.", source: "Table 4", verdict: "not run", evidence: "" };
    if (r.table4) {
      const rows = r.table4.rows.slice(1);
      const down = rows.filter((x, i) => x.groupAdam.featureRate.mean < r.table4!.rows[i].groupAdam.featureRate.mean);
      const sig = down.filter((x) => x.vsPrevious?.featureRate && x.vsPrevious.featureRate.p < ALPHA);
      c.verdict = sig.length === rows.length ? "holds" : down.length === rows.length ? "partly" : "does not hold";
      c.evidence = r.table4.rows.map((x) => `d=${x.embedding}: ${x.groupAdam.featureRate.mean.toPrecision(3)}`).join(", ") + `; ${sig.length} of ${rows.length} steps significant.`;
    }
    claims.push(c);
  }
  return claims;
}
