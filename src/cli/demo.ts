import { mkdtempSync, rmSync, mkdirSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { openData, prefetched } from "../data/index.js";
import { createGenerator, generateFiles, synthConfig } from "../data/synth/index.js";
import { buildModel } from "../train/model.js";
import { trainModel } from "../train/trainer.js";
import { evaluateModel } from "../train/evaluate.js";
import { num, str, UsageError, type Command } from "./args.js";

/**
 * `sparsectr demo`: the main job in one command, with no data needed: a
 * Criteo-shaped synthetic set with a known teacher, `dcn` trained by `adam`
 * and by `group-adam`, side by side.
 */
export const demo: Command = {
  name: "demo",
  summary: "generate Criteo-like data, train dcn with adam and group-adam, compare AUC, sparsity and size",
  usage: "demo [--rows 200000] [--test-rows 50000] [--l21 0.002] [--seed 1] [--keep DIR] [--json]",
  options: [
    { name: "rows", type: "string", help: "training rows", default: "200000" },
    { name: "test-rows", type: "string", help: "test rows (the continuation of the stream)", default: "50000" },
    { name: "l21", type: "string", help: "group lasso strength of group-adam", default: "0.002" },
    { name: "scale", type: "string", help: "vocabulary scale of the generated data", default: "0.05" },
    { name: "seed", type: "string", help: "seed of the data and the models", default: "1" },
    { name: "keep", type: "string", help: "keep the generated files in this folder" },
    { name: "json", type: "boolean", help: "print one JSON object" },
  ],
  async run(a) {
    if (a.positional.length) throw new UsageError(`unexpected argument "${a.positional[0]}"`);
    const rows = num(a, "rows", true), testRows = num(a, "test-rows", true);
    const l21 = num(a, "l21"), seed = num(a, "seed", true), scale = num(a, "scale");
    if (rows < 1000 || testRows < 100) throw new UsageError("--rows must be >= 1000 and --test-rows >= 100");
    const keep = str(a, "keep");
    const dir = keep ?? mkdtempSync(join(tmpdir(), "sparsectr-demo-"));
    if (keep) mkdirSync(keep, { recursive: true });
    const say = (s: string): void => { if (!a.values.json) process.stdout.write(s + "\n"); };
    const t0 = process.hrtime.bigint();
    try {
      const g = createGenerator(synthConfig({ preset: "criteo", seed, scale }));
      const trainPath = join(dir, "train.txt"), testPath = join(dir, "test.txt");
      say(`generating ${rows} training and ${testRows} test rows (Criteo shape, seed ${seed}) in ${dir}`);
      await generateFiles(g, { format: "criteo", start: 0, rows, out: trainPath, truth: null });
      const truth = await generateFiles(g, { format: "criteo", start: rows, rows: testRows, out: testPath });
      const bayes = truth.truth?.bayes.auc ?? undefined;
      const results = [];
      for (const [optimizer, hyper] of [["adam", {}], ["group-adam", { l21, l2: 1e-5 }]] as const) {
        // Reading on a second thread when there is one: the same model, sooner.
        const train = prefetched(await openData(trainPath, { batchSize: 512 }), availableParallelism() > 1);
        const test = await openData(testPath, { batchSize: 4096 });
        const m = buildModel(train.fields.length, { model: "dcn", optimizer, hyper, seed });
        say(`training dcn with ${optimizer}${"l21" in hyper ? ` (l21 ${l21})` : ""}...`);
        const r = await trainModel(m, train);
        const e = await evaluateModel(m, test);
        results.push({
          optimizer, auc: e.auc, logloss: e.logloss, featureRate: m.featureRate, features: m.features,
          liveFeatures: m.liveFeatures, modelBytes: m.modelBytes, rowsPerSec: Math.round(r.rows / r.seconds),
        });
      }
      const seconds = +(Number(process.hrtime.bigint() - t0) / 1e9).toFixed(1);
      if (a.values.json) {
        process.stdout.write(JSON.stringify({ rows, testRows, bayesAuc: bayes ?? null, l21, seconds, results }) + "\n");
        return 0;
      }
      const head = ["optimizer", "AUC", "log loss", "feature rate", "live features", "model bytes", "rows/s"];
      const body = results.map((r) => [
        r.optimizer, r.auc.toFixed(4), r.logloss.toFixed(4), r.featureRate.toFixed(4),
        `${r.liveFeatures}/${r.features}`, String(r.modelBytes), String(r.rowsPerSec),
      ]);
      const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
      const line = (c: string[]): string => c.map((x, i) => x.padEnd(w[i])).join("  ");
      say("");
      say(line(head));
      for (const b of body) say(line(b));
      if (bayes !== undefined) say(`\nBayes-optimal AUC of the test rows (the teacher's own probabilities): ${bayes.toFixed(4)}`);
      const [ad, gr] = results;
      say(`group-adam keeps ${(gr.featureRate * 100).toFixed(1)}% of the features, a model ${(ad.modelBytes / Math.max(gr.modelBytes, 1)).toFixed(1)}x smaller, AUC ${gr.auc >= ad.auc ? "+" : ""}${(gr.auc - ad.auc).toFixed(4)} against adam (${seconds} s in all).`);
      return 0;
    } finally {
      if (!keep) rmSync(dir, { recursive: true, force: true });
    }
  },
};
