/**
 * The Markdown report of an experiment, written from results.json alone (so
 * its numbers are those of results.json, rounded): the paper's tables laid
 * out as in the paper, the figures, and the verdict on each claim.
 *
 * Number formats: AUC and its standard deviation with 4 decimals, feature
 * rates with 3 decimals (in scientific notation with 2 digits below 0.01),
 * p-values with 3 significant digits (scientific below 0.001).
 */
import type { Arm, Results, Stat, TTest } from "./results.js";

export const fmtAuc = (x: number): string => x.toFixed(4);
export const fmtRate = (x: number): string => (x >= 0.01 || x === 0 ? x.toFixed(3) : x.toExponential(1));
export const fmtP = (p: number | null | undefined): string => (p === null || p === undefined ? "n/a" : p >= 1e-3 ? p.toPrecision(3) : p.toExponential(2));
const fmtStat = (s: Stat, f: (x: number) => string): string => (s.sd === null ? f(s.mean) : `${f(s.mean)} ± ${f(s.sd)}`);
const aucRate = (a: Pick<Arm, "auc" | "featureRate">, bold = false): string => {
  const t = fmtStat(a.auc, fmtAuc);
  return `${bold ? `**${t}**` : t} (${fmtRate(a.featureRate.mean)})`;
};
const pOf = (t: TTest): string => fmtP(t?.p);
const ORDER = ["MLP", "OPNN", "DCN"];
const byPaperOrder = <T extends { label: string }>(xs: T[]): T[] => [...xs].sort((a, b) => idx(a.label) - idx(b.label));
const idx = (l: string): number => (ORDER.includes(l) ? ORDER.indexOf(l) : ORDER.length);
const row = (cells: string[]): string => `| ${cells.join(" | ")} |`;
const sep = (n: number): string => `|${" --- |".repeat(n)}`;

export function renderReport(r: Results): string {
  const L: string[] = [];
  const s = r.settings;
  L.push(`# sparsectr experiment ${r.experiment}`, "");
  L.push("Reproduction of section 4 of *Adaptive Optimizers with Sparse Group Lasso for Neural Networks in CTR Prediction*. " +
    `Every number is a mean over ${s.seeds.length} run${s.seeds.length === 1 ? "" : "s"} (seeds ${s.seeds.join(", ")}) ± one standard deviation; ` +
    "AUC on the test rows, feature rate (live features / features in the training rows) in parentheses; p-values are two-sided Welch t-tests over the runs. " +
    "The numbers are those of results.json, rounded.", "");
  L.push("## Data", "", row(["dataset", "model", "format", "train rows", "validation rows", "test rows", "Bayes-optimal test AUC"]), sep(7));
  for (const d of s.datasets) L.push(row([d.name, d.model, d.format, String(d.trainRows), String(d.valRows), String(d.testRows), d.bayesAuc === null ? "n/a" : fmtAuc(d.bayesAuc)]));
  L.push("", `Learning rates: Adam family ${s.lr.adam}, Adagrad family ${s.lr.adagrad}; batch 512, one pass. ` +
    `Magnitude pruning fine-tunes on the last k% of the training rows, k in {${s.ks.join(", ")}}, chosen per run by validation AUC.`, "");

  if (r.table2) {
    const rows = r.table2.rows;
    const groups = byPaperOrder(unique(rows.map((x) => ({ label: x.label, dataset: x.dataset }))));
    L.push("## Table 2: Adam + magnitude pruning vs Group Adam at the same feature rate", "");
    L.push(row(["λ21", ...groups.flatMap((g) => [`${g.label} Adam + pruning`, `${g.label} Group Adam`, `${g.label} p-value`])]), sep(1 + 3 * groups.length));
    for (const l21 of unique(rows.map((x) => x.l21))) {
      const cells = [String(l21)];
      for (const g of groups) {
        const x = rows.find((y) => y.l21 === l21 && y.dataset === g.dataset)!;
        const gaBest = x.groupAdam.auc.mean >= x.adamPruned.auc.mean;
        cells.push(aucRate(x.adamPruned, !gaBest), aucRate(x.groupAdam, gaBest), pOf(x.pAuc));
      }
      L.push(row(cells));
    }
    L.push("", "Fine-tuning share k chosen by validation AUC, per run:", "", row(["λ21", ...groups.map((g) => `${g.label} k`)]), sep(1 + groups.length));
    for (const l21 of unique(rows.map((x) => x.l21))) {
      L.push(row([String(l21), ...groups.map((g) => rows.find((y) => y.l21 === l21 && y.dataset === g.dataset)!.adamPruned.chosenK.join(", "))]));
    }
    L.push("");
  }
  if (r.table3) {
    L.push("## Table 3: no pruning: Adam vs Group Adam, Adagrad vs Group Adagrad", "");
    L.push(row(["Dataset", "Adam", "Group Adam", "p-value AUC (feature rate)", "Adagrad", "Group Adagrad", "p-value AUC (feature rate)"]), sep(7));
    for (const x of byPaperOrder(r.table3.rows)) {
      const b1 = x.groupAdam.auc.mean >= x.adam.auc.mean, b2 = x.groupAdagrad.auc.mean >= x.adagrad.auc.mean;
      L.push(row([x.label, aucRate(x.adam, !b1), aucRate(x.groupAdam, b1), `${pOf(x.adamVsGroupAdam.auc)} (${pOf(x.adamVsGroupAdam.featureRate)})`,
        aucRate(x.adagrad, !b2), aucRate(x.groupAdagrad, b2), `${pOf(x.adagradVsGroupAdagrad.auc)} (${pOf(x.adagradVsGroupAdagrad.featureRate)})`]));
    }
    L.push("", "Regularisers:", "");
    for (const x of byPaperOrder(r.table3.rows)) L.push(`- ${x.label}: Group Adam ${regs(x.regs.groupAdam)}; Group Adagrad ${regs(x.regs.groupAdagrad)}`);
    L.push("");
  }
  if (r.table4) {
    const t = r.table4;
    L.push(`## Table 4: embedding dimension (${t.label}, Group Adam, ${regs(t.regs)})`, "");
    L.push(row(["Embedding dimension", "Group Adam: feature rate (AUC)", "p-value feature rate vs previous", "p-value AUC vs previous"]), sep(4));
    for (const x of t.rows) {
      L.push(row([String(x.embedding), `${fmtStat(x.groupAdam.featureRate, fmtRate)} (${fmtStat(x.groupAdam.auc, fmtAuc)})`, x.vsPrevious ? pOf(x.vsPrevious.featureRate) : "", x.vsPrevious ? pOf(x.vsPrevious.auc) : ""]));
    }
    L.push("");
  }
  if (r.fig1) {
    L.push("## Fig. 1: AUC across feature rates", "", figLink(r, "fig1"), "");
    L.push("The points are those of Table 2 (each series' feature rate ± sd, AUC ± sd).", "");
  }
  if (r.fig2) {
    const f = r.fig2;
    L.push(`## Fig. 2: threshold on s_t (raw) vs s~_t (scaled), ${f.label}`, "", figLink(r, "fig2"), "");
    L.push(row(["λ21", "raw: feature rate (AUC)", "scaled: feature rate (AUC)"]), sep(3));
    f.raw.forEach((p, i) => L.push(row([String(p.strength), `${fmtRate(p.featureRate.mean)} (${fmtStat(p.auc, fmtAuc)})`, `${fmtRate(f.scaled[i].featureRate.mean)} (${fmtStat(f.scaled[i].auc, fmtAuc)})`])));
    L.push("", "At equal sparsity: the scaled curve of the same seed interpolated (linearly in log feature rate) at each raw run's feature rate:", "");
    L.push(row(["λ21 (raw)", "feature rate", "raw AUC", "scaled AUC at the same rate", "p-value"]), sep(5));
    for (const c of f.comparisons) {
      L.push(row([String(c.l21), fmtRate(c.featureRate.mean), fmtStat(c.raw, fmtAuc), c.scaledAtSameRate ? fmtStat(c.scaledAtSameRate, fmtAuc) : "outside the scaled curve", fmtP(c.p)]));
    }
    L.push("");
  }
  if (r.fig3) {
    const f = r.fig3;
    L.push(`## Fig. 3: feature rate across strengths, l1 alone vs l21 alone (${f.label})`, "", figLink(r, "fig3"), "");
    L.push(row(["strength", "l1: feature rate (AUC)", "l21: feature rate (AUC)", "p-value feature rate"]), sep(4));
    f.l1.forEach((p, i) => L.push(row([String(p.strength), `${fmtStat(p.featureRate, fmtRate)} (${fmtAuc(p.auc.mean)})`, `${fmtStat(f.l21[i].featureRate, fmtRate)} (${fmtAuc(f.l21[i].auc.mean)})`, fmtP(f.pFeatureRate[i])])));
    L.push("");
  }
  L.push("## The paper's claims", "", "Verdicts by the fixed rules of docs/experiments.md (significance at 90%, as the paper).", "");
  L.push(row(["#", "claim", "source", "verdict", "evidence"]), sep(5));
  for (const c of r.claims) L.push(row([String(c.id), c.claim, c.source, c.verdict, c.evidence || "not run in this experiment"]));
  L.push("");
  if (r.run) {
    L.push("## Run", "", `${r.run.cells} cells: ${r.run.ran} computed, ${r.run.skipped} reused from earlier runs; ${r.run.seconds.toFixed(0)} s wall time on ${r.run.jobs} worker${r.run.jobs === 1 ? "" : "s"} (${r.run.cellSeconds.toFixed(0)} s of cell time).`, "");
  }
  return L.join("\n");
}

function regs(x: { l1?: number; l21?: number; l2?: number }): string {
  return `λ1 = ${x.l1 ?? 0}, λ21 = ${x.l21 ?? 0}, λ2 = ${x.l2 ?? 0}`;
}

function figLink(r: Results, name: string): string {
  const f = r.figures?.[name];
  if (!f) return "(figure not written)";
  return `![${name}](${f.png ?? f.svg})`;
}

function unique<T>(xs: T[]): T[] {
  const seen = new Set<string>();
  return xs.filter((x) => { const k = JSON.stringify(x); if (seen.has(k)) return false; seen.add(k); return true; });
}
