// `npm run bench -- threads-quality`: the quality goal of data-parallel
// training. For dcn (Criteo-shaped) and mlp (Avazu-shaped) generated rows
// (1M, --quick 100k), three seeds each of the deterministic trainer and of
// the data-parallel one (2 workers sync, sequential and async, 4 workers sync
// and sequential, 8 and 16 sequential, and 2, 4, 8 and 16 split, which a
// default run's auto takes where the workers make fewer than 1,000 rounds;
// above 2 they oversubscribe a 2-core machine, which changes the speed, not
// the arithmetic of the rounds): test AUC and live features per run, and
// per configuration the mean AUC's difference from the deterministic mean
// and the mean feature rate's relative difference (goals: within 0.002 and
// 5%). Each run in its own process (threads-run.ts).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createGenerator, generateFiles, synthConfig } from "../src/data/synth/index.js";
import { DEFAULT_SPARSITY } from "../src/train/schedule.js";
import { commitOf, machine, runChild } from "./threads.js";
import type { ThreadsCase } from "./threads-run.js";
import type { DenseUpdates } from "../src/train/parallel-protocol.js";

const SEEDS = [1, 2, 3];
const CONFIGS: { trainer: ThreadsCase["trainer"]; threads: number; dense?: DenseUpdates }[] = [
  { trainer: "deterministic", threads: 1 },
  { trainer: "parallel", threads: 2, dense: "sync" },
  { trainer: "parallel", threads: 2, dense: "sequential" },
  { trainer: "parallel", threads: 2, dense: "async" },
  { trainer: "parallel", threads: 4, dense: "sync" },
  { trainer: "parallel", threads: 4, dense: "sequential" },
  { trainer: "parallel", threads: 8, dense: "sequential" },
  { trainer: "parallel", threads: 16, dense: "sequential" },
  { trainer: "parallel", threads: 2, dense: "split" },
  { trainer: "parallel", threads: 4, dense: "split" },
  { trainer: "parallel", threads: 8, dense: "split" },
  { trainer: "parallel", threads: 16, dense: "split" },
];

export async function benchThreadsQuality(emit: (o: object) => void, quick: boolean): Promise<void> {
  const info = { ...commitOf(), date: new Date().toISOString().slice(0, 10), machine: machine() };
  const dir = mkdtempSync(join(tmpdir(), "sparsectr-bench-quality-"));
  const rows = quick ? 100_000 : 1_000_000, testRows = quick ? 20_000 : 100_000;
  try {
    const only = process.env.SPARSECTR_BENCH_MODELS?.split(",");
    for (const [model, preset] of [["dcn", "criteo"], ["mlp", "avazu"]] as const) {
      if (only && !only.includes(model)) continue;
      const base = { bench: "threads-quality", model, preset, rows, ...info };
      const trainPath = join(dir, `${preset}-train`), testPath = join(dir, `${preset}-test`);
      const g = createGenerator(synthConfig({ preset, seed: 1 }));
      await generateFiles(g, { format: preset, start: 0, rows, out: trainPath, truth: null });
      await generateFiles(g, { format: preset, start: rows, rows: testRows, out: testPath, truth: null });
      const means: { auc: number; live: number }[] = [];
      for (const cfg of CONFIGS) {
        const aucs: number[] = [], lives: number[] = [];
        for (const seed of SEEDS) {
          const c: ThreadsCase = { model, optimizer: "group-adam", hyper: { l21: DEFAULT_SPARSITY / 512 }, train: trainPath, test: testPath, rows, seed, ...cfg };
          const r = runChild(c, 600_000);
          if (!r.result) {
            emit({ ...base, kind: "run", ...cfg, seed, error: r.error, stderr: r.stderr });
            continue;
          }
          aucs.push(r.result.auc);
          lives.push(r.result.live_features);
          emit({ ...base, kind: "run", ...cfg, seed, auc: +r.result.auc.toFixed(5), live_features: r.result.live_features, feature_rate: +r.result.feature_rate.toFixed(5), rows_per_sec: Math.round(r.result.rows / r.result.train_seconds) });
        }
        const mean = (a: number[]): number => a.reduce((x, y) => x + y, 0) / Math.max(a.length, 1);
        means.push({ auc: mean(aucs), live: mean(lives) });
        const ref = means[0];
        emit({
          ...base, kind: "mean", ...cfg, seeds: aucs.length, auc: +mean(aucs).toFixed(5), live_features: Math.round(mean(lives)),
          auc_vs_deterministic: +(mean(aucs) - ref.auc).toFixed(5), feature_rate_vs_deterministic: +(mean(lives) / ref.live - 1).toFixed(4),
          goals: "AUC within 0.002, feature rate within 5% (mean of the seeds)",
        });
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
