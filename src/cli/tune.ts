import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isModelName, type ModelName } from "../models/index.js";
import { FORMATS, type Format } from "../data/index.js";
import { isL21Norm, isOptimizerName, L21_NORMS } from "../optim/hyper.js";
import { writeFileAtomic } from "../io/atomic.js";
import { GENERATED, GENERATED_NAMES, prepareGenerated, prepareReal } from "../experiments/data.js";
import { tune as runTune, type Budget, type TuneResult } from "../experiments/tune.js";
import { num, str, UsageError, type Command } from "./args.js";

/**
 * `sparsectr tune`: the l21 that meets a feature-rate or model-size budget
 * with the best validation AUC, and a per-field report of what it keeps,
 * beside magnitude pruning at the same feature count.
 */
export const tune: Command = {
  name: "tune",
  summary: "find the l21 that meets a feature-rate or model-size budget with the best validation AUC; per-field feature-selection report",
  usage: [
    "tune --target-feature-rate 0.05 [--dataset criteo] [--scale 1] [--out DIR]",
    "tune --max-model-bytes 2000000 --data train.txt [--test test.txt] [--model dcn] [--out DIR]",
  ].join("\n"),
  options: [
    { name: "target-feature-rate", type: "string", help: "budget: at most this share of the features live" },
    { name: "max-model-bytes", type: "string", help: "budget: a served model of at most this many bytes" },
    { name: "tolerance", type: "string", help: "the search ends when a run is within this relative band under the budget", default: "0.1" },
    { name: "max-runs", type: "string", help: "training runs at most", default: "10" },
    { name: "start", type: "string", help: "first l21 tried", default: "0.001" },
    { name: "dataset", type: "string", help: `generated data: ${GENERATED_NAMES.join(", ")} (with its model)`, default: "criteo" },
    { name: "scale", type: "string", help: "generated data: rows (and vocabularies) times this", default: "1" },
    { name: "data-seed", type: "string", help: "seed of the generated data", default: "1" },
    { name: "data", type: "string", help: "your training file (its last --val-fraction is the validation rows)" },
    { name: "test", type: "string", help: "your test file (without it: the last 1/7 of --data)" },
    { name: "format", type: "string", help: `format of --data: ${FORMATS.join(", ")}` },
    { name: "featindex", type: "string", help: "libsvm feature dictionary of --data" },
    { name: "schema", type: "string", help: "csv schema of --data" },
    { name: "truth", type: "string", help: "truth file of --data when it was generated (default: <data>.truth.json if present)" },
    { name: "val-fraction", type: "string", help: "validation share of the training rows", default: "0.1" },
    { name: "model", type: "string", help: "model (default: the dataset's, dcn for --data)" },
    { name: "optimizer", type: "string", help: "a group-* optimizer", default: "group-adam" },
    { name: "lr", type: "string", help: "learning rate (default: the optimizer's)" },
    { name: "l1", type: "string", help: "l1 strength (kept fixed)", default: "0" },
    { name: "l2", type: "string", help: "l2 strength (kept fixed)", default: "0" },
    { name: "l21-norm", type: "string", help: "raw, scaled or eq10", default: "raw" },
    { name: "seed", type: "string", help: "model seed", default: "1" },
    { name: "no-pruning", type: "boolean", help: "skip the magnitude-pruning comparison" },
    { name: "out", type: "string", help: "write tune.json and tune.md here (and keep the generated data in DIR/data)" },
    { name: "json", type: "boolean", help: "print the result as one JSON line" },
  ],
  async run(a) {
    if (a.positional.length) throw new UsageError(`unexpected argument "${a.positional[0]}"`);
    const rate = a.values["target-feature-rate"], bytes = a.values["max-model-bytes"];
    if ((rate === undefined) === (bytes === undefined)) throw new UsageError("give exactly one budget: --target-feature-rate R or --max-model-bytes B");
    const budget: Budget = rate !== undefined ? { featureRate: num(a, "target-feature-rate") } : { modelBytes: num(a, "max-model-bytes") };
    const optimizer = str(a, "optimizer")!;
    if (!isOptimizerName(optimizer) || !optimizer.startsWith("group-")) throw new UsageError(`--optimizer must be a group-* optimizer, not "${optimizer}"`);
    const model = str(a, "model");
    if (model !== undefined && !isModelName(model)) throw new UsageError(`unknown model "${model}"`);
    const format = str(a, "format");
    if (format !== undefined && !(FORMATS as readonly string[]).includes(format)) throw new UsageError(`unknown format "${format}"`);
    const norm = str(a, "l21-norm")!;
    if (!isL21Norm(norm)) throw new UsageError(`--l21-norm must be ${L21_NORMS.join(", ")}`);
    const dataset = str(a, "dataset")!;
    if (!(dataset in GENERATED)) throw new UsageError(`unknown dataset "${dataset}" (use ${GENERATED_NAMES.join(", ")})`);
    const out = str(a, "out");
    const data = str(a, "data");
    const say = (s: string): void => { if (!a.values.json) process.stdout.write(`${s}\n`); };
    const work = out ? join(out, "data") : mkdtempSync(join(tmpdir(), "sparsectr-tune-"));
    if (out) mkdirSync(out, { recursive: true });
    try {
      let ds = data
        ? await prepareReal({
          data, model: (model ?? "dcn") as ModelName, valFraction: num(a, "val-fraction"),
          ...(str(a, "test") ? { test: str(a, "test") } : {}), ...(format ? { format: format as Format } : {}),
          ...(str(a, "featindex") ? { featindex: str(a, "featindex") } : {}), ...(str(a, "schema") ? { schema: str(a, "schema") } : {}),
          ...(str(a, "truth") ? { truth: str(a, "truth") } : {}),
        })
        : await prepareGenerated(dataset as keyof typeof GENERATED, work, { scale: num(a, "scale"), seed: num(a, "data-seed", true) });
      if (model && !data) ds = { ...ds, model: model as ModelName };
      const hyper = {
        ...(a.values.lr !== undefined ? { lr: num(a, "lr") } : {}),
        l1: num(a, "l1"), l2: num(a, "l2"), l21Norm: norm,
      };
      const r = await runTune({
        dataset: ds, optimizer, hyper, seed: num(a, "seed", true), budget,
        tolerance: num(a, "tolerance"), maxRuns: num(a, "max-runs", true), start: num(a, "start"),
        pruning: !a.values["no-pruning"], log: say,
      });
      const md = tuneMarkdown(r);
      if (out) {
        writeFileAtomic(join(out, "tune.json"), new TextEncoder().encode(JSON.stringify(r, null, 1) + "\n"));
        writeFileAtomic(join(out, "tune.md"), new TextEncoder().encode(md));
      }
      if (a.values.json) process.stdout.write(JSON.stringify(r) + "\n");
      else say(`\n${md}`);
      return 0;
    } finally {
      if (!out) rmSync(work, { recursive: true, force: true });
    }
  },
};

const pct = (x: number | null): string => (x === null ? "n/a" : `${(100 * x).toFixed(1)}%`);

/** The tune result as Markdown: the runs, the choice, and the per-field selection. */
export function tuneMarkdown(r: TuneResult): string {
  const L: string[] = [];
  const budget = "featureRate" in r.budget ? `feature rate <= ${r.budget.featureRate}` : `model bytes <= ${r.budget.modelBytes}`;
  L.push(`# sparsectr tune: ${r.optimizer}, ${r.model} on ${r.dataset}, ${budget} (${r.maxLive} live features)`, "");
  L.push("| run | l21 | live features | feature rate | model bytes | validation AUC | |", "| --- | --- | --- | --- | --- | --- | --- |");
  r.runs.forEach((x, i) => L.push(`| ${i + 1} | ${x.l21.toPrecision(4)} | ${x.liveFeatures} | ${x.featureRate.toPrecision(4)} | ${x.modelBytes} | ${x.valAuc.toFixed(4)} | ${x === r.runs.find((y) => y.l21 === r.chosen.l21) ? "chosen" : x.inBand ? "in band" : x.meets ? "meets" : "over"} |`));
  L.push("", `Chosen: l21 = ${r.chosen.l21.toPrecision(4)}, ${r.chosen.liveFeatures} of ${r.chosen.features} features (rate ${r.chosen.featureRate.toPrecision(4)}${r.withinTolerance ? `, within ${100 * r.tolerance}% under the budget` : ", NOT within the tolerance band: raise --max-runs"}), ` +
    `validation AUC ${r.chosen.valAuc.toFixed(4)}, test AUC ${r.chosen.test.auc.toFixed(4)}.`);
  if (r.pruning) {
    const p = r.pruning;
    L.push(`Magnitude pruning of the plain optimizer to the same ${p.keep} features (fine-tuning k = ${p.chosenK}% chosen by validation AUC): validation AUC ${p.val.auc.toFixed(4)}, test AUC ${p.test.auc.toFixed(4)}.`);
  }
  const s = r.selection;
  if (s) {
    const names = s.methods.map((m) => m.method);
    L.push("", "## Feature selection per field", "");
    if (s.informativePresent !== null) L.push(`Ground truth: ${s.informativePresent} of the ${s.methods[0]?.features ?? 0} features present are informative.`, "");
    L.push(`| field | truth | values | informative values | ${names.map((n) => `${n}: live (informative)`).join(" | ")} |`, `| --- | --- | --- | --- | ${names.map(() => "---").join(" | ")} |`);
    for (const f of s.fields) {
      L.push(`| ${f.field} | ${f.informativeField === null ? "" : f.informativeField ? "informative" : "noise"} | ${f.values} | ${f.informativeValues ?? "n/a"} | ${names.map((n) => `${f.live[n]}${f.liveInformative[n] === null ? "" : ` (${f.liveInformative[n]})`}`).join(" | ")} |`);
    }
    L.push("", "| method | live features | precision | recall | fields kept | noise fields kept |", "| --- | --- | --- | --- | --- | --- |");
    for (const m of s.methods) L.push(`| ${m.method} | ${m.live} | ${pct(m.precision)} | ${pct(m.recall)} | ${m.fieldsKept} | ${m.noiseFieldsKept ?? "n/a"} |`);
    L.push("", "Precision: informative features among the live ones; recall: live informative features among the informative ones present in the training rows.");
    if (s.conflicts) L.push("", `Warning: ${s.conflicts} feature keys were labelled both informative and not (rows and truth do not match).`);
  }
  return L.join("\n") + "\n";
}
