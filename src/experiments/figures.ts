/**
 * The paper's figures from results.json: Fig. 1 (AUC against feature rate,
 * Group Adam and Adam + pruning, one panel per dataset: MLP, OPNN, DCN),
 * Fig. 2 (AUC against feature rate, the raw and the scaled l21 threshold)
 * and Fig. 3 (feature rate against strength, l1 alone and l21 alone).
 * Points are means over the seeds, bars one standard deviation.
 */
import type { CurvePoint, Results } from "./results.js";
import { renderFigure, type PlotPanel, type PlotPoint } from "./plot.js";

export interface Figure {
  name: string;
  svg: string;
  width: number;
  height: number;
}

const PAPER_ORDER = ["MLP", "OPNN", "DCN"];

function pts(c: CurvePoint[], x: "featureRate" | "strength", y: "auc" | "featureRate"): PlotPoint[] {
  return c.map((p) => ({
    x: x === "strength" ? p.strength : p.featureRate.mean,
    xErr: x === "strength" ? null : p.featureRate.sd,
    y: p[y].mean,
    yErr: p[y].sd,
  }));
}

export function buildFigures(r: Results): Figure[] {
  const out: Figure[] = [];
  if (r.fig1) {
    const panels = [...r.fig1.panels].sort((a, b) => rank(a.label) - rank(b.label)).map((p): PlotPanel => ({
      title: p.label, xLabel: "feature rate", yLabel: "AUC", xLog: true,
      series: [
        { name: "Adam + pruning", points: pts(p.adamPruned, "featureRate", "auc"), color: "#d1531d", marker: "square" },
        { name: "Group Adam", points: pts(p.groupAdam, "featureRate", "auc"), color: "#1f4e9c", marker: "circle" },
      ],
    }));
    out.push({ name: "fig1", ...renderFigure(panels, { caption: "Fig. 1. AUC across feature rates for the two optimizers (MLP, OPNN and DCN from left to right). Error bars: one standard deviation." }) });
  }
  if (r.fig2) {
    const f = r.fig2;
    out.push({
      name: "fig2",
      ...renderFigure([{
        title: f.label, xLabel: "feature rate", yLabel: "AUC", xLog: true,
        series: [
          { name: "s_t (raw)", points: pts(f.raw, "featureRate", "auc"), color: "#1f4e9c", marker: "circle" },
          { name: "s~_t (scaled)", points: pts(f.scaled, "featureRate", "auc"), color: "#2a8c3a", marker: "triangle", dashed: true },
        ],
      }], { caption: "Fig. 2. AUC across feature rates with the l21 threshold on s_t and on s~_t.", panelWidth: 420 }),
    });
  }
  if (r.fig3) {
    const f = r.fig3;
    out.push({
      name: "fig3",
      ...renderFigure([{
        title: f.label, xLabel: "regulariser strength", yLabel: "feature rate", xLog: true, yLog: true,
        series: [
          { name: "l1", points: pts(f.l1, "strength", "featureRate"), color: "#8a3ea8", marker: "diamond" },
          { name: "l21", points: pts(f.l21, "strength", "featureRate"), color: "#1f4e9c", marker: "circle" },
        ],
      }], { caption: "Fig. 3. Feature rate across strengths of l1 alone and l21 alone.", panelWidth: 420 }),
    });
  }
  return out;
}

function rank(label: string): number {
  const i = PAPER_ORDER.indexOf(label);
  return i < 0 ? PAPER_ORDER.length : i;
}
