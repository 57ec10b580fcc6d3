import { createOptimizer, type OptimizerName } from "../src/index.js";
import { distinct, featureKeys, mulberry, zipfBatches } from "./workload.js";

/**
 * `npm run bench -- optim`: sparse steps on a 1M-row x 8 table, 13,312 ids per
 * step (512 rows x 26 fields) with about 5,100 distinct rows (Zipf exponent 1.08), heavy-tailed and
 * seeded. One JSON line per optimizer: distinct rows updated per second by the
 * whole step (checks, id lookup, deduplication, update) and by the fused row
 * update alone (rows already looked up).
 */
export function benchOptim(emit: (o: object) => void, quick: boolean): void {
  const vocab = 1_000_000, d = 8, size = 13_312, batches = quick ? 20 : 100;
  const keys = featureKeys(vocab, 1);
  const work = zipfBatches(keys, 1.08, size, batches, 2);
  const distinctPerStep = work.reduce((s, b) => s + distinct(b), 0) / work.length;
  const rand = mulberry(3);
  const grads = work.map(() => new Float32Array(size * d).map(() => (rand() - 0.5) * 0.02));
  const names: OptimizerName[] = ["adam", "group-adam", "adagrad", "group-adagrad"];
  const results: Record<string, number> = {};
  for (const name of names) {
    const hyper = name.startsWith("group-") ? { l21: 1e-4, l2: 1e-5 } : {};
    const table = createOptimizer(name, hyper).table({ rowLength: d, seed: 1 });
    // Every feature exists before timing: the benchmark measures updates, not creation.
    for (let i = 0; i < vocab; i += 65536) table.gather(keys.subarray(i, Math.min(vocab, i + 65536)));
    for (let i = 0; i < 5; i++) table.step(work[i], grads[i]);
    const reps = quick ? 2 : 5;
    let best = Infinity, bestUpdate = Infinity;
    for (let r = 0; r < reps; r++) {
      let upd = 0n;
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < work.length; i++) {
        const p = table.prepareStep(work[i], grads[i]);
        const t1 = process.hrtime.bigint();
        table.applyStep(p);
        upd += process.hrtime.bigint() - t1;
      }
      best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
      bestUpdate = Math.min(bestUpdate, Number(upd) / 1e9);
    }
    const rowsPerSec = (distinctPerStep * work.length) / best;
    results[name] = rowsPerSec;
    emit({
      bench: "optim", optimizer: name, table_rows: vocab, row_length: d, ids_per_step: size,
      distinct_rows_per_step: Math.round(distinctPerStep), ms_per_step: +((best / work.length) * 1e3).toFixed(4),
      rows_per_sec: Math.round(rowsPerSec), ids_per_sec: Math.round((size * work.length) / best),
      update_only_rows_per_sec: Math.round((distinctPerStep * work.length) / bestUpdate),
      live_rows: table.liveRows, memory_bytes: table.memoryBytes,
    });
  }
  emit({
    bench: "optim-summary",
    group_adam_cost_vs_adam: +(results["adam"] / results["group-adam"]).toFixed(3),
    group_adagrad_cost_vs_adagrad: +(results["adagrad"] / results["group-adagrad"]).toFixed(3),
    target_group_adam_rows_per_sec: 10_000_000,
    meets_rows_target: results["group-adam"] >= 10_000_000,
    meets_cost_target: results["adam"] / results["group-adam"] <= 1.25,
  });
}
