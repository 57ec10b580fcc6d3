import { isModelName, type ModelName } from "../models/index.js";
import { FORMATS, type Format } from "../data/index.js";
import { GENERATED, GENERATED_NAMES } from "../experiments/data.js";
import { defaultJobs, runExperiment } from "../experiments/experiment.js";
import { EXPERIMENTS, type ExperimentName, type Regs } from "../experiments/plan.js";
import { num, str, UsageError, type Command, type ParsedArgs } from "./args.js";

/**
 * `sparsectr experiment <name>`: the paper's experiments (section 4) as one
 * command each, with repeats, t-tests, results.json, a Markdown report and
 * figures; resumable (finished cells are stored and skipped).
 */
export const experiment: Command = {
  name: "experiment",
  summary: "reproduce the paper's tables and figures (table2, table3, table4, fig1, fig2, fig3, paper) with repeats and t-tests",
  usage: [
    "experiment <table2|table3|table4|fig1|fig2|fig3|paper> --out DIR [--repeats 5] [--jobs N] [--scale 1]",
    "experiment <name> --out DIR --data train.txt [--test test.txt] [--model dcn] [--format F] [--featindex I] [--schema S]",
  ].join("\n"),
  options: [
    { name: "out", type: "string", help: "output folder: results.json, report.md, figures/, cells/ (finished cells, reused by a re-run), data/" },
    { name: "repeats", type: "string", help: "runs of every cell, with seeds seed..seed+repeats-1", default: "5" },
    { name: "seed", type: "string", help: "first model seed", default: "1" },
    { name: "jobs", type: "string", help: "worker threads running cells in parallel", defaultHelp: "the number of cores" },
    { name: "scale", type: "string", help: "generated data: rows (and vocabularies) times this", default: "1" },
    { name: "datasets", type: "string", help: `generated datasets of Tables 2-3 and Fig. 1, comma-separated (${GENERATED_NAMES.join(", ")})`, default: GENERATED_NAMES.join(",") },
    { name: "data-seed", type: "string", help: "seed of the generated data", default: "1" },
    { name: "data", type: "string", help: "your training file instead of generated data (its last --val-fraction is the validation rows)" },
    { name: "test", type: "string", help: "your test file (without it: the last --test-fraction of --data)" },
    { name: "format", type: "string", help: `format of --data: ${FORMATS.join(", ")} (default: detected)` },
    { name: "featindex", type: "string", help: "libsvm feature dictionary of --data" },
    { name: "schema", type: "string", help: "csv schema of --data" },
    { name: "truth", type: "string", help: "truth file of --data when it was generated (default: <data>.truth.json if present)" },
    { name: "model", type: "string", help: "model for --data: dcn, mlp, opnn, lr, deepfm", default: "dcn" },
    { name: "name", type: "string", help: "name of --data in the tables", default: "data" },
    { name: "val-fraction", type: "string", help: "validation share of the training rows", default: "0.1" },
    { name: "test-fraction", type: "string", help: "test share of --data when no --test is given", defaultHelp: "0.142857 (1/7)" },
    { name: "l21", type: "string", help: "λ21 grid of Table 2 / Fig. 1, comma-separated", default: "1e-4,5e-4,1e-3,5e-3,1e-2" },
    { name: "fig2-l21", type: "string", help: "λ21 grid of Fig. 2 (both norms)", default: "1e-4,5e-4,1e-3,5e-3,1e-2" },
    { name: "fig3-strengths", type: "string", help: "strengths of Fig. 3 (l1 alone, l21 alone)", default: "1e-4,5e-4,1e-3,5e-3,1e-2" },
    { name: "ks", type: "string", help: "fine-tuning shares (percent) of the pruning baseline", default: "0,10,20,30" },
    { name: "lr-adam", type: "string", help: "learning rate of adam and group-adam", default: "0.001" },
    { name: "lr-adagrad", type: "string", help: "learning rate of adagrad and group-adagrad", default: "0.01" },
    { name: "group-adam", type: "string", help: "Table 3/4 regularisers of group-adam, e.g. l21=1e-3,l2=1e-5 (default per dataset, docs/experiments.md)" },
    { name: "group-adagrad", type: "string", help: "Table 3 regularisers of group-adagrad, e.g. l21=3e-3,l2=1e-5" },
    { name: "embeddings", type: "string", help: "embedding widths of Table 4 (dcn on 39 fields takes at most 26: docs/experiments.md)", default: "4,8,16,24" },
    { name: "no-png", type: "boolean", help: "write the SVG figures only" },
    { name: "quiet", type: "boolean", help: "no progress lines" },
    { name: "json", type: "boolean", help: "print results.json's claims and run summary as one JSON line" },
  ],
  async run(a) {
    const name = a.positional[0];
    if (name === undefined) throw new UsageError(`which experiment? one of ${EXPERIMENTS.join(", ")}`);
    if (!(EXPERIMENTS as readonly string[]).includes(name)) throw new UsageError(`unknown experiment "${name}": use one of ${EXPERIMENTS.join(", ")}`);
    if (a.positional.length > 1) throw new UsageError(`unexpected argument "${a.positional[1]}"`);
    const out = str(a, "out");
    if (!out) throw new UsageError("--out DIR is required");
    const data = str(a, "data");
    for (const o of ["test", "format", "featindex", "schema", "truth"]) if (!data && a.values[o] !== undefined) throw new UsageError(`--${o} goes with --data`);
    const model = str(a, "model")!;
    if (!isModelName(model)) throw new UsageError(`unknown model "${model}"`);
    const format = str(a, "format");
    if (format !== undefined && !(FORMATS as readonly string[]).includes(format)) throw new UsageError(`unknown format "${format}" (use ${FORMATS.join(", ")})`);
    const datasets = str(a, "datasets")?.split(",").map((s) => s.trim()).filter(Boolean);
    for (const d of datasets ?? []) if (!(d in GENERATED)) throw new UsageError(`unknown dataset "${d}" in --datasets (use ${GENERATED_NAMES.join(", ")})`);
    if (data && datasets) throw new UsageError("--datasets chooses generated data; with --data the experiment runs on your file");
    const quiet = !!a.values.quiet || !!a.values.json;
    const t0 = Date.now();
    const { results, outDir } = await runExperiment({
      name: name as ExperimentName,
      out,
      repeats: num(a, "repeats", true),
      seed: num(a, "seed", true),
      jobs: a.values.jobs === undefined ? defaultJobs() : num(a, "jobs", true),
      scale: num(a, "scale"),
      dataSeed: num(a, "data-seed", true),
      ...(datasets ? { datasets: datasets as (keyof typeof GENERATED)[] } : {}),
      ...(data ? {
        real: {
          data, model: model as ModelName, name: str(a, "name"),
          ...(str(a, "test") ? { test: str(a, "test") } : {}),
          ...(format ? { format: format as Format } : {}),
          ...(str(a, "featindex") ? { featindex: str(a, "featindex") } : {}),
          ...(str(a, "schema") ? { schema: str(a, "schema") } : {}),
          ...(str(a, "truth") ? { truth: str(a, "truth") } : {}),
          valFraction: num(a, "val-fraction"),
          ...(a.values["test-fraction"] !== undefined ? { testFraction: num(a, "test-fraction") } : {}),
        },
      } : {}),
      l21Grid: list(a, "l21"),
      fig2Grid: list(a, "fig2-l21"),
      fig3Grid: list(a, "fig3-strengths"),
      ks: list(a, "ks", true),
      lr: { adam: num(a, "lr-adam"), adagrad: num(a, "lr-adagrad") },
      embeddings: list(a, "embeddings", true),
      ...(a.values["group-adam"] !== undefined || a.values["group-adagrad"] !== undefined ? {
        chosen: {
          ...(a.values["group-adam"] !== undefined ? { groupAdam: regs(a, "group-adam") } : {}),
          ...(a.values["group-adagrad"] !== undefined ? { groupAdagrad: regs(a, "group-adagrad") } : {}),
        },
      } : {}),
      png: !a.values["no-png"],
      log: quiet ? undefined : (line) => process.stdout.write(`${line}\n`),
    });
    if (a.values.json) {
      process.stdout.write(JSON.stringify({ out: outDir, claims: results.claims, run: results.run }) + "\n");
      return 0;
    }
    process.stdout.write(`\n${results.run!.cells} cells (${results.run!.ran} computed, ${results.run!.skipped} reused) in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    for (const c of results.claims) process.stdout.write(`claim ${c.id} (${c.source}): ${c.verdict}${c.evidence ? ` - ${c.evidence}` : ""}\n`);
    process.stdout.write(`wrote ${outDir}/results.json, ${outDir}/report.md${Object.keys(results.figures ?? {}).length ? `, ${outDir}/figures/` : ""}\n`);
    return 0;
  },
};

function list(a: ParsedArgs, name: string, integer = false): number[] | undefined {
  const v = str(a, name);
  if (v === undefined) return undefined;
  const xs = v.split(",").map((s) => s.trim()).filter(Boolean).map(Number);
  if (!xs.length || xs.some((x) => !Number.isFinite(x) || x < 0 || (integer && !Number.isInteger(x)))) throw new UsageError(`--${name} = ${v} is not a comma-separated list of ${integer ? "non-negative integers" : "non-negative numbers"}`);
  return xs;
}

function regs(a: ParsedArgs, name: string): Regs {
  const v = str(a, name)!;
  const o: Regs = {};
  for (const part of v.split(",").map((s) => s.trim()).filter(Boolean)) {
    const [k, x] = part.split("=");
    const n = Number(x);
    if (!["l1", "l21", "l2"].includes(k) || x === undefined || !Number.isFinite(n) || n < 0) throw new UsageError(`--${name}: "${part}" is not l1=, l21= or l2= with a non-negative number`);
    o[k as keyof Regs] = n;
  }
  return o;
}
