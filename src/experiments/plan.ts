/**
 * The plan of the paper's experiments (section 4): the sections, their
 * settings, and the cells each needs (`planJobs`). ./aggregate.ts turns the
 * cells' results into the tables and figures (./results.ts) and
 * ./claims.ts judges the paper's claims on them.
 */
import { MODEL_PRESETS } from "../models/index.js";
import type { Hyperparams, OptimizerName } from "../optim/hyper.js";
import type { TrainSettings } from "../train/model.js";
import { cellId, type CellSpec, type TrainResult } from "./cells.js";
import type { DatasetSpec } from "./data.js";
import type { Job } from "./runner.js";

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

export const groupAdamL21 = (cfg: PlanConfig, ds: DatasetSpec, l21: number, seed: number): CellSpec => trainSpec(cfg, ds, "group-adam", { l21 }, seed);
export const chosenOf = (cfg: PlanConfig, ds: DatasetSpec): { groupAdam: Regs; groupAdagrad: Regs } => cfg.chosen[ds.name] ?? chosenDefault(ds.name);

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
export function pruneJob(cfg: PlanConfig, ds: DatasetSpec, seed: number): Extract<Job, { key: string }> {
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

/**
 * What each section needs of one seed: its cells (added with `add`) and its
 * pruning jobs; and which datasets it reports on (the list of Tables 2 and 3,
 * or the detail set of Table 4 and Figs. 2 and 3).
 */
export const SECTION_PLANS: Readonly<Record<Section, { data: "datasets" | "detail"; jobs: (cfg: PlanConfig, seed: number, add: (spec: CellSpec) => void, jobs: Job[]) => void }>> = {
  table2: { data: "datasets", jobs: table2Jobs },
  fig1: { data: "datasets", jobs: table2Jobs },
  table3: {
    data: "datasets",
    jobs: (cfg, seed, add) => {
      for (const ds of cfg.datasets) {
        const c = chosenOf(cfg, ds);
        add(trainSpec(cfg, ds, "adam", {}, seed));
        add(trainSpec(cfg, ds, "group-adam", c.groupAdam, seed));
        add(trainSpec(cfg, ds, "adagrad", {}, seed));
        add(trainSpec(cfg, ds, "group-adagrad", c.groupAdagrad, seed));
      }
    },
  },
  table4: {
    data: "detail",
    jobs: (cfg, seed, add) => { for (const e of cfg.embeddings) add(trainSpec(cfg, cfg.detail, "group-adam", chosenOf(cfg, cfg.detail).groupAdam, seed, e)); },
  },
  fig2: {
    data: "detail",
    jobs: (cfg, seed, add) => {
      for (const l21 of cfg.fig2Grid) {
        add(trainSpec(cfg, cfg.detail, "group-adam", { l21 }, seed));
        add(trainSpec(cfg, cfg.detail, "group-adam", { l21, l21Norm: "scaled" }, seed));
      }
    },
  },
  fig3: {
    data: "detail",
    jobs: (cfg, seed, add) => {
      for (const v of cfg.fig3Grid) {
        add(trainSpec(cfg, cfg.detail, "group-adam", { l1: v }, seed));
        add(trainSpec(cfg, cfg.detail, "group-adam", { l21: v }, seed));
      }
    },
  },
};

/** Table 2 and Fig. 1: group-adam over the l21 grid and the pruning baseline, per dataset. */
function table2Jobs(cfg: PlanConfig, seed: number, add: (spec: CellSpec) => void, jobs: Job[]): void {
  for (const ds of cfg.datasets) {
    for (const l21 of cfg.l21Grid) add(groupAdamL21(cfg, ds, l21, seed));
    jobs.push(pruneJob(cfg, ds, seed));
  }
}

/** Every cell the sections need (shared cells appear once in the runner). */
export function planJobs(sections: readonly Section[], cfg: PlanConfig): Job[] {
  const jobs: Job[] = [];
  const add = (spec: CellSpec): void => { jobs.push({ spec }); };
  for (const s of sections) for (const seed of cfg.seeds) SECTION_PLANS[s].jobs(cfg, seed, add, jobs);
  return jobs;
}

/** The datasets the sections report on, each once. */
export function datasetsOf(cfg: PlanConfig, sections: readonly Section[]): DatasetSpec[] {
  const list: DatasetSpec[] = [];
  if (sections.some((s) => SECTION_PLANS[s].data === "datasets")) list.push(...cfg.datasets);
  if (sections.some((s) => SECTION_PLANS[s].data === "detail") && !list.some((d) => d.identity === cfg.detail.identity)) list.push(cfg.detail);
  return list;
}
