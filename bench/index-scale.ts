import { createOptimizer } from "../src/index.js";

/**
 * `npm run bench -- index`: inserts 100M distinct 64-bit ids into one table
 * (plain sgd, row length 1, so that rows and index fit one 4 GiB WebAssembly
 * memory), then looks every 97th one up again. Reports inserts per second,
 * lookups per second and bytes per id.
 */
export function benchIndex(emit: (o: object) => void, quick: boolean): void {
  const total = quick ? 10_000_000 : 100_000_000, batch = 1 << 20;
  const table = createOptimizer("sgd").table({ rowLength: 1, seed: 1, init: "zeros" });
  const ids = new BigUint64Array(batch);
  let x = 0x243f6a8885a308d3n;
  const t0 = process.hrtime.bigint();
  for (let done = 0; done < total; done += batch) {
    const n = Math.min(batch, total - done);
    for (let i = 0; i < n; i++) {
      x = BigInt.asUintN(64, x * 6364136223846793005n + 1442695040888963407n);
      ids[i] = x;
    }
    table.gather(ids.subarray(0, n));
  }
  const insertSecs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (table.size !== total) throw new Error(`index bench: ${table.size} rows for ${total} distinct ids`);
  const t1 = process.hrtime.bigint();
  let found = 0;
  const last = ids.subarray(0, Math.min(batch, total));
  for (let i = 0; i < last.length; i += 97) if (table.has(last[i])) found++;
  const lookupSecs = Number(process.hrtime.bigint() - t1) / 1e9;
  emit({
    bench: "index", ids: total, insert_secs: +insertSecs.toFixed(2), inserts_per_sec: Math.round(total / insertSecs),
    single_lookups_per_sec: Math.round(found / lookupSecs), memory_bytes: table.memoryBytes,
    bytes_per_id: +(table.memoryBytes / total).toFixed(1), record_bytes: table.recordBytes,
    peak_rss_bytes: process.resourceUsage().maxRSS * 1024,
  });
}
