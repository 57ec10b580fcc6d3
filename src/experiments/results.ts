/**
 * The results of the paper's experiments: the rows of its tables and the
 * points of its figures as means, standard deviations and Welch t-tests over
 * the seeds, the claims judged on them, and the helpers that build them.
 */
import type { TrainResult } from "./cells.js";
import type { ExperimentName, Regs, Section } from "./plan.js";
import { mean, sampleSd, welchTTest } from "./stats.js";

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

export function arm(rs: TrainResult[]): Arm {
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
