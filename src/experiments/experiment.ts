/**
 * One experiment from start to end: prepare the data, plan the cells, run
 * them (in parallel, resumable), aggregate, and write results.json, the
 * Markdown report and the figures (SVG and PNG) under the output folder.
 */
import { mkdirSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";
import { writeFileAtomic } from "../io/atomic.js";
import { GENERATED, GENERATED_NAMES, prepareGenerated, prepareReal, type DatasetSpec, type RealDataOptions } from "./data.js";
import { buildFigures } from "./figures.js";
import { chosenDefault, DEFAULTS, planJobs, sectionsOf, type ExperimentName, type PlanConfig, type Regs } from "./plan.js";
import { aggregate } from "./aggregate.js";
import type { Results } from "./results.js";
import { svgToPng } from "./png.js";
import { renderReport } from "./report.js";
import { runJobs, type Job } from "./runner.js";
import { openPart } from "./data.js";
import { buildModel } from "../train/model.js";
import { disposeModel } from "./prune.js";
import { CellStore } from "./store.js";

export interface ExperimentOptions {
  name: ExperimentName;
  out: string;
  /** Runs per cell, seeds seed..seed+repeats-1 (default 5). */
  repeats?: number;
  seed?: number;
  /** Worker threads (default: one per available core). */
  jobs?: number;
  /** Generated data: rows (and vocabularies) times this. */
  scale?: number;
  /** Seed of the generated data. */
  dataSeed?: number;
  /** Generated datasets of Tables 2, 3 and Fig. 1 (default all three). */
  datasets?: (keyof typeof GENERATED)[];
  /** The user's data instead of generated data. */
  real?: RealDataOptions;
  l21Grid?: number[];
  fig2Grid?: number[];
  fig3Grid?: number[];
  ks?: number[];
  lr?: { adam?: number; adagrad?: number };
  /** Table 3 (and 4) regularisers, for every dataset. */
  chosen?: { groupAdam?: Regs; groupAdagrad?: Regs };
  embeddings?: number[];
  /** Write PNG files beside the SVG figures (default true). */
  png?: boolean;
  log?: (line: string) => void;
}

/** Worker threads by default: one per available core. */
export function defaultJobs(): number {
  return Math.max(1, availableParallelism());
}

export async function runExperiment(o: ExperimentOptions): Promise<{ results: Results; outDir: string }> {
  const out = resolve(o.out);
  mkdirSync(out, { recursive: true });
  const log = o.log ?? (() => undefined);
  const sections = sectionsOf(o.name);
  const repeats = o.repeats ?? 5, seed0 = o.seed ?? 1;
  if (!Number.isSafeInteger(repeats) || repeats < 1) throw new RangeError(`repeats = ${repeats} must be a positive integer`);
  const needMain = sections.some((s) => s === "table2" || s === "table3" || s === "fig1");
  const needDetail = sections.some((s) => s === "table4" || s === "fig2" || s === "fig3");
  let datasets: DatasetSpec[], detail: DatasetSpec;
  if (o.real) {
    const ds = await prepareReal(o.real);
    datasets = [ds];
    detail = ds;
  } else {
    const names = o.datasets ?? [...GENERATED_NAMES];
    for (const n of names) if (!GENERATED[n]) throw new RangeError(`unknown dataset "${n}" (known: ${GENERATED_NAMES.join(", ")})`);
    const detailName = names.includes("criteo") ? "criteo" : names[0];
    const wanted = new Set<keyof typeof GENERATED>([...(needMain ? names : []), ...(needDetail ? [detailName] : [])]);
    const prepared = new Map<string, DatasetSpec>();
    for (const n of names) {
      if (!wanted.has(n)) continue;
      log(`data: ${n} (${GENERATED[n].preset}-shaped, for ${GENERATED[n].model})`);
      prepared.set(n, await prepareGenerated(n, join(out, "data"), { scale: o.scale, seed: o.dataSeed }));
    }
    datasets = names.filter((n) => prepared.has(n)).map((n) => prepared.get(n)!);
    detail = prepared.get(detailName) ?? datasets[0];
  }
  const cfg: PlanConfig = {
    seeds: Array.from({ length: repeats }, (_, i) => seed0 + i),
    datasets: needMain ? datasets : [],
    detail,
    l21Grid: o.l21Grid ?? DEFAULTS.l21Grid,
    fig2Grid: o.fig2Grid ?? DEFAULTS.fig2Grid,
    fig3Grid: o.fig3Grid ?? DEFAULTS.fig3Grid,
    ks: o.ks ?? DEFAULTS.ks,
    lr: { adam: o.lr?.adam ?? DEFAULTS.lr.adam, adagrad: o.lr?.adagrad ?? DEFAULTS.lr.adagrad },
    chosen: {},
    embeddings: o.embeddings ?? DEFAULTS.embeddings,
  };
  if (o.chosen) {
    for (const d of [...datasets, detail]) {
      cfg.chosen[d.name] = {
        groupAdam: o.chosen.groupAdam ?? chosenDefault(d.name).groupAdam,
        groupAdagrad: o.chosen.groupAdagrad ?? chosenDefault(d.name).groupAdagrad,
      };
    }
  }
  const jobs = planJobs(sections, cfg);
  await preflight(jobs);
  const workers = o.jobs ?? defaultJobs();
  const store = new CellStore(out);
  const { results: cells, stats } = await runJobs(jobs, { store, jobs: workers, log });
  const results = aggregate(o.name, cfg, cells);
  results.run = { ...stats, jobs: workers };
  const figs = buildFigures(results);
  if (figs.length) mkdirSync(join(out, "figures"), { recursive: true });
  results.figures = {};
  for (const f of figs) {
    const svgPath = join("figures", `${f.name}.svg`);
    writeFileAtomic(join(out, svgPath), new TextEncoder().encode(f.svg));
    const entry: NonNullable<Results["figures"]>[string] = { svg: svgPath };
    if (o.png !== false) {
      try {
        const png = await svgToPng(f.svg);
        const pngPath = join("figures", `${f.name}.png`);
        writeFileAtomic(join(out, pngPath), png.png);
        Object.assign(entry, { png: pngPath, width: png.width, height: png.height });
      } catch (e) {
        // The SVG is the figure; a renderer failure must not lose the run's results.
        log(`warning: ${f.name}.png not written (${(e as Error).message}); the SVG is`);
      }
    }
    results.figures[f.name] = entry;
  }
  writeFileAtomic(join(out, "results.json"), new TextEncoder().encode(JSON.stringify(results, null, 1) + "\n"));
  writeFileAtomic(join(out, "report.md"), new TextEncoder().encode(renderReport(results)));
  return { results, outDir: out };
}

/**
 * Builds one model of every distinct configuration before any training, so
 * that an invalid setting (say an embedding too wide for a model) stops the
 * command at once instead of after hours of other cells.
 */
async function preflight(jobs: readonly Job[]): Promise<void> {
  const seen = new Set<string>();
  const fields = new Map<string, number>();
  for (const j of jobs) {
    const spec = "spec" in j ? j.spec : j.deps[0];
    if (!spec) continue;
    const key = JSON.stringify([spec.dataset.identity, { ...spec.settings, seed: 0 }]);
    if (seen.has(key)) continue;
    seen.add(key);
    let f = fields.get(spec.dataset.identity);
    if (f === undefined) {
      f = (await openPart(spec.dataset, spec.dataset.train, 512)).file.fields.length;
      fields.set(spec.dataset.identity, f);
    }
    try {
      disposeModel(buildModel(f, spec.settings));
    } catch (e) {
      throw new Error(`${spec.dataset.name}: ${spec.settings.model} with ${spec.settings.optimizer} ${JSON.stringify(spec.settings.modelConfig ?? {})} cannot be built: ${(e as Error).message}`);
    }
  }
}
