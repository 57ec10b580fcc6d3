/**
 * The paper's tables and figures from the cells' results: per-seed numbers
 * into means, standard deviations and Welch t-tests (./results.ts), then the
 * claims judged on them (./claims.ts). Reported AUCs are on the test rows;
 * the validation rows only choose (the pruning baseline's fine-tuning share).
 */
import type { Hyperparams, OptimizerName } from "../optim/hyper.js";
import { cellId, type CellResult, type CellSpec, type PruneResult, type TrainResult } from "./cells.js";
import type { DatasetSpec } from "./data.js";
import { chosenOf, datasetsOf, groupAdamL21, pruneJob, sectionsOf, trainSpec, type ExperimentName, type PlanConfig } from "./plan.js";
import {
  arm, interpolateLog, stat, ttest, type Arm, type CurvePoint, type Fig2Comparison, type Results, type Table2Row, type Table4Row,
} from "./results.js";
import { judgeClaims } from "./claims.js";

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
      datasets: datasetsOf(cfg, sections).map((d) => ({
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
