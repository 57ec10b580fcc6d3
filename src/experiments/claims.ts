/**
 * The five claims of the paper's section 4, judged by fixed rules on the
 * aggregated numbers (docs/experiments.md).
 */
import { ttest, type Claim, type Results } from "./results.js";

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
