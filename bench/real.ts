import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createGenerator, generateFiles, synthConfig } from "../src/data/synth/index.js";

const CLI = fileURLToPath(new URL("../src/cli/main.js", import.meta.url));
const SHARED = fileURLToPath(new URL("../../../shared/data/", import.meta.url));

/** One `sparsectr train --json` run: its report and wall time (the process, start to exit). */
function train(args: string[]): Record<string, number> & { wall: number; curve: unknown[] } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [CLI, "train", ...args, "--json"], { encoding: "utf8", maxBuffer: 1 << 26 });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`train ${args.join(" ")}: ${r.stderr}`);
  return { curve: [], ...JSON.parse(r.stdout.trim().split("\n").pop()!), wall };
}

/**
 * `npm run bench -- real`: `sparsectr train` with its defaults on every real
 * sample in ../shared/data (Criteo: train.txt -> dev.txt + test.txt; Avazu:
 * the first 800 rows -> the last 199, a file without its header line;
 * iPinYou: train.fm -> test.fm), next to the project's `lr` model with the
 * same schedule: test AUC, log loss, feature rate, wall time. Then 1M
 * generated Criteo rows (200k with --quick): the defaults against one
 * streaming pass without validation, admission or group lasso (the
 * behaviour before validation-driven training): AUC and the ratio of wall
 * times (target <= 1.5).
 */
export async function benchReal(emit: (o: object) => void, quick: boolean): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "sparsectr-bench-real-"));
  try {
    if (existsSync(join(SHARED, "criteo/train.txt"))) {
      const lines = readFileSync(join(SHARED, "avazu/sample.csv"), "utf8").trimEnd().split("\n");
      const avTrain = join(dir, "avazu-train.csv"), avTest = join(dir, "avazu-test.csv");
      writeFileSync(avTrain, lines.slice(0, 801).join("\n") + "\n");
      writeFileSync(avTest, lines.slice(801).join("\n") + "\n");
      const samples: [string, string[]][] = [
        ["criteo", ["--train", join(SHARED, "criteo/train.txt"), "--test", join(SHARED, "criteo/dev.txt"), "--test", join(SHARED, "criteo/test.txt")]],
        ["avazu", ["--train", avTrain, "--test", avTest]],
        ["ipinyou", ["--train", join(SHARED, "ipinyou/train.fm.txt"), "--test", join(SHARED, "ipinyou/test.fm.txt"), "--featindex", join(SHARED, "ipinyou/featindex.fm.txt")]],
      ];
      for (const [sample, args] of samples) {
        for (const model of ["dcn", "lr"]) {
          const r = train([...args, ...(model === "dcn" ? [] : ["--model", model])]);
          emit({
            bench: "real", sample, model, auc: +r.auc.toFixed(4), logloss: +r.logloss.toFixed(4), feature_rate: +r.featureRate.toFixed(4),
            live_features: r.liveFeatures, features: r.features, train_rows: r.rows, test_rows: r.testRows, batch: r.batch, epochs: r.epochs,
            best_epoch: r.bestEpoch, wall_seconds: +r.wall.toFixed(2),
          });
        }
      }
    } else {
      emit({ bench: "real", skipped: "../shared/data not present" });
    }
    const rows = quick ? 200_000 : 1_000_000;
    const g = createGenerator(synthConfig({ preset: "criteo", seed: 1, scale: 0.05 }));
    const trainPath = join(dir, "gen-train.txt"), testPath = join(dir, "gen-test.txt");
    await generateFiles(g, { format: "criteo", start: 0, rows, out: trainPath, truth: null });
    await generateFiles(g, { format: "criteo", start: rows, rows: 100_000, out: testPath, truth: null });
    const onePass = train(["--train", trainPath, "--test", testPath, "--val-fraction", "0", "--min-count", "1", "--sparsity", "0"]);
    const def = train(["--train", trainPath, "--test", testPath]);
    emit({
      bench: "real", sample: `generated criteo ${rows} rows`, model: "dcn",
      one_pass_auc: +onePass.auc.toFixed(5), default_auc: +def.auc.toFixed(5), auc_gain: +(def.auc - onePass.auc).toFixed(5),
      one_pass_wall_seconds: +onePass.wall.toFixed(2), default_wall_seconds: +def.wall.toFixed(2), wall_ratio: +(def.wall / onePass.wall).toFixed(3),
      default_feature_rate: +def.featureRate.toFixed(4), evaluations: def.curve.length,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
