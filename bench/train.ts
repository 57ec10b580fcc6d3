import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { configureLayers, layersReady, openData, prefetched } from "../src/index.js";
import { layerCopiedBytes, layerSplitProducts } from "../src/kernels/layers/index.js";
import { createGenerator, generateFiles, synthConfig } from "../src/data/synth/index.js";
import { buildModel } from "../src/train/model.js";
import { trainModel } from "../src/train/trainer.js";
import { evaluateModel } from "../src/train/evaluate.js";
import type { ModelName } from "../src/models/index.js";

/**
 * `npm run bench -- train`: end to end, file on disk to trained model, on one
 * thread and on two (threads: 2: reading on a second thread, large matrix
 * products split between both), then on two with fused multiply-adds (fma):
 * generated rows in each model's paper shape (dcn: Criteo, mlp: Avazu,
 * opnn: iPinYou), batch 512, adam and group-adam. Rows/s, AUC, feature rate.
 * SPARSECTR_BENCH_MODELS=dcn,mlp picks models.
 */
export async function benchTrain(emit: (o: object) => void, quick: boolean): Promise<void> {
  const rows = quick ? 50_000 : 1_000_000, testRows = quick ? 10_000 : 100_000;
  const dir = mkdtempSync(join(tmpdir(), "sparsectr-bench-train-"));
  try {
    const only = process.env.SPARSECTR_BENCH_MODELS?.split(",");
    for (const [model, preset, format, l21] of [["dcn", "criteo", "criteo", 2e-3], ["mlp", "avazu", "avazu", 2e-3], ["opnn", "ipinyou", "libsvm", 2e-3]] as const) {
      if (only && !only.includes(model)) continue;
      const g = createGenerator(synthConfig({ preset, seed: 1, scale: 0.05 }));
      const trainPath = join(dir, `${preset}-train`), testPath = join(dir, `${preset}-test`);
      await generateFiles(g, { format, start: 0, rows, out: trainPath, truth: null, featindex: `${trainPath}.fi` });
      const t = await generateFiles(g, { format, start: rows, rows: testRows, out: testPath, featindex: null });
      // opnn on a quick run: a shorter stream keeps the bench short.
      const n = model === "opnn" && !quick ? Math.min(rows, 200_000) : rows;
      const group = { l21, l2: 1e-5 };
      const runs = [["adam", {}, 1, false], ["group-adam", group, 1, false], ["adam", {}, 2, false], ["group-adam", group, 2, false], ["adam", {}, 2, true], ["group-adam", group, 2, true]] as const;
      for (const [optimizer, hyper, threads, fma] of runs) {
        configureLayers({ threads, fma });
        await layersReady();
        const featindex = format === "libsvm" ? `${trainPath}.fi` : undefined;
        const train = prefetched(await openData(trainPath, { batchSize: 512, featindex, range: { end: n } }), threads > 1);
        const test = await openData(testPath, { batchSize: 4096, featindex });
        const m = buildModel(train.fields.length, { model: model as ModelName, optimizer, hyper, seed: 1 });
        const splitBefore = layerSplitProducts(), copiedBefore = layerCopiedBytes();
        const r = await trainModel(m, train);
        const copied = layerCopiedBytes() - copiedBefore;
        const e = await evaluateModel(m, test);
        emit({
          bench: "train", model, optimizer, rows: r.rows, seconds: +r.seconds.toFixed(2), rows_per_sec: Math.round(r.rows / r.seconds),
          auc: +e.auc.toFixed(5), bayes_auc: t.truth?.bayes.auc ?? null, logloss: +e.logloss.toFixed(5),
          feature_rate: +m.featureRate.toFixed(5), features: m.features, model_bytes: m.modelBytes, threads, fma,
          split_products: layerSplitProducts() - splitBefore,
          // Bytes the dense kernels copied in and out per training step (two threads: only parameters and gradients).
          layer_copied_kb_per_step: +(copied / 1024 / Math.max(1, Math.ceil(r.rows / 512))).toFixed(1),
        });
      }
    }
  } finally {
    configureLayers({ threads: 1, fma: false });
    rmSync(dir, { recursive: true, force: true });
  }
}
