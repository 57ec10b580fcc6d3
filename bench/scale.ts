import { spawn } from "node:child_process";
import { createReadStream, createWriteStream, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { configureLayers, layersReady, openData, prefetched } from "../src/index.js";
import { buildModel } from "../src/train/model.js";
import { trainModel } from "../src/train/trainer.js";

const CLI = new URL("../src/cli/main.js", import.meta.url).pathname;

/** Generates rows [start, start + rows) of the full-scale Criteo stream into path, in a child process. */
function generate(path: string, start: number, rows: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [CLI, "generate", "--preset", "criteo", "--seed", "1", "--start-row", String(start), "--rows", String(rows), "--out", path, "--no-truth"], { stdio: ["ignore", "ignore", "inherit"] });
    c.on("error", reject);
    c.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`generate exited with ${code}`))));
  });
}

/**
 * `npm run bench -- scale`: the paper's Criteo scale on one machine:
 * generated Criteo-shaped rows (46M, about 33M distinct features; `--quick`:
 * 2M), written to disk by two generator processes, then `dcn` + `group-adam`
 * (l21 2e-3, embedding 8, batch 512) trained in one pass from the file with
 * reading on a second thread, large products split between both, fused
 * multiply-adds where the runtime has them, and the table split over two
 * WebAssembly memories. Reports wall time, rows/s, peak RSS and the final
 * feature rate. SPARSECTR_SCALE_DATA=DIR keeps the generated file in DIR and
 * reuses it on the next run (generation takes about 3 minutes).
 */
export async function benchScale(emit: (o: object) => void, quick: boolean): Promise<void> {
  const rows = quick ? 2_000_000 : 46_000_000;
  const keep = process.env.SPARSECTR_SCALE_DATA;
  if (keep) mkdirSync(keep, { recursive: true });
  const dir = keep ?? mkdtempSync(join(tmpdir(), "sparsectr-bench-scale-"));
  try {
    const path = join(dir, `criteo-${rows}.txt`);
    let genSecs = 0;
    if (!existsSync(path)) {
      const half = Math.floor(rows / 2);
      const g0 = process.hrtime.bigint();
      await Promise.all([generate(join(dir, "a.txt"), 0, half), generate(join(dir, "b.txt"), half, rows - half)]);
      const out = createWriteStream(`${path}.tmp`);
      for (const part of ["a.txt", "b.txt"]) {
        await pipeline(createReadStream(join(dir, part)), out, { end: false });
        rmSync(join(dir, part));
      }
      await new Promise<void>((res) => out.end(res));
      renameSync(`${path}.tmp`, path);
      genSecs = Number(process.hrtime.bigint() - g0) / 1e9;
    }
    const fma = configureLayers({ threads: 2 }).threads > 1 && tryFma();
    await layersReady();
    const f = prefetched(await openData(path, { batchSize: 512 }), true);
    const m = buildModel(f.fields.length, { model: "dcn", optimizer: "group-adam", hyper: { l21: 2e-3, l2: 1e-5 }, seed: 1, shards: 2 });
    const r = await trainModel(m, f);
    emit({
      bench: "scale", model: "dcn", optimizer: "group-adam", rows: r.rows, features: m.features, live_features: m.liveFeatures,
      feature_rate: +m.featureRate.toFixed(5), train_secs: +r.seconds.toFixed(1), rows_per_sec: Math.round(r.rows / r.seconds),
      generate_secs: genSecs ? +genSecs.toFixed(1) : null, memory_bytes: m.memoryBytes, peak_rss_bytes: process.resourceUsage().maxRSS * 1024,
      train_loss: +r.loss.toFixed(5), threads: 2, shards: 2, fma,
    });
  } finally {
    configureLayers({ threads: 1, fma: false });
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}

/** Fused multiply-adds where the runtime has them. */
function tryFma(): boolean {
  try {
    return configureLayers({ fma: true }).fma;
  } catch {
    return false;
  }
}
