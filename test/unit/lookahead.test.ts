// The lookahead: the next batch's ids looked up on another thread while the
// current batch trains. dedupLookup + createMissing must create the rows that
// dedupResolve creates, in the same order, with the same weights, on both
// backends; a table (or a sharded one) stepped with a lookahead before every
// step must end byte for byte as one stepped without; and a trained model
// must not depend on it, including when reading the next batch fails.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createOptimizer, openData, prefetched } from "../../src/index.js";
import { Arena } from "../../src/kernels/arena.js";
import { HEADER_BYTES, M_CAP, M_CHUNKS, M_D, M_INIT, M_INITA, M_INITB, M_RECBYTES, M_SEED, M_SHIFT, M_SIZE, M_SLOTS, M_ZEROS } from "../../src/kernels/layout.js";
import { createGenerator, generateFiles, synthConfig } from "../../src/data/synth/index.js";
import { buildModel } from "../../src/train/model.js";
import { trainModel } from "../../src/train/trainer.js";
import { lookaheadReady } from "../../src/optim/lookahead.js";
import { ShardedTable } from "../../src/optim/sharded.js";
import type { SparseTable } from "../../src/optim/table.js";
import { rng } from "../helpers/rng.js";

/** A bare table in an arena: meta, index and one chunk of rows, as SparseTable lays them out. */
function bareTable(a: Arena, d: number, init: [number, number, number], cap: number, rows: number): number {
  const h = a.heap, recBytes = HEADER_BYTES + 4 * d * 4;
  // Every block first: an allocation may grow the memory, which detaches the views.
  const meta = h.alloc(64), slots = h.alloc(cap * 12), chunks = h.alloc(16), chunk = h.alloc(Math.max(rows, 1 << 12) * recBytes);
  const m = meta >>> 2, u = h.u32, f = h.f64;
  u[m + M_SHIFT] = 12;
  u[m + M_RECBYTES] = recBytes;
  u[m + M_D] = d;
  u[m + M_INIT] = init[0];
  f[(meta + M_INITA * 4) >>> 3] = init[1];
  f[(meta + M_INITB * 4) >>> 3] = init[2];
  u[m + M_SEED] = 77;
  u[m + M_SLOTS] = slots;
  u[m + M_CAP] = cap;
  u[m + M_CHUNKS] = chunks;
  u[chunks >>> 2] = chunk;
  return meta;
}

test("dedupLookup + createMissing = dedupResolve: same inverse, records, rows, weights and zero count, wasm and ts, every initialiser", () => {
  for (const init of [[0, 0, 0], [1, -0.5, 0.5], [2, 0.1, 0.02]] as [number, number, number][]) {
    for (const d of [1, 3, 8, 13]) {
      const states: Uint8Array[] = [];
      const outs: string[] = [];
      for (const [backend, split] of [["wasm", false], ["wasm", true], ["ts", true], ["ts", false]] as const) {
        const a = new Arena(backend, { shared: backend === "wasm" }), h = a.heap, k = a.kernels;
        const meta = bareTable(a, d, init, 1 << 12, 2000);
        const cap = 512;
        const ids = h.alloc(cap * 8), hashes = h.alloc(cap * 4), inv = h.alloc(cap * 4), recs = h.alloc(cap * 8), keys = h.alloc(cap * 8), tab = h.alloc(cap * 8), initBuf = h.alloc(cap * d * 4);
        const rr = rng(9);
        let trace = "";
        for (let b = 0; b < 6; b++) {
          // Ragged sizes; heavy duplicates; ids seen in earlier batches and new ones.
          const n = 1 + Math.floor(rr() * 300);
          for (let i = 0; i < n; i++) {
            const base = rr() < 0.5 ? Math.floor(1 / (rr() + 0.003)) : Math.floor(rr() * 5000);
            const key = BigInt(base) + (rr() < 0.05 ? 0xfedcba9876n << 24n : 0n);
            h.u64[(ids >>> 3) + i] = key;
          }
          let u: number;
          if (split) {
            const chunk = h.u32[h.u32[(meta >>> 2) + M_CHUNKS] >>> 2], end = chunk + h.u32[(meta >>> 2) + M_SIZE] * (HEADER_BYTES + 16 * d);
            const rowsBefore = h.u8.slice(chunk, end);
            u = k.dedupLookup(meta, ids, n, hashes, inv, recs, keys, tab, initBuf);
            // It maps the pages of the rows to come, and writes nothing else.
            assert.deepEqual(h.u8.slice(chunk, end), rowsBefore, `${backend} init ${init} d ${d} batch ${b}: the lookup changed a row`);
            assert.ok(h.u8.subarray(end, chunk + 4096 * (HEADER_BYTES + 16 * d)).every((x) => x === 0), "rows to come are still zero");
            const before = h.u32[(meta >>> 2) + M_SIZE];
            const created = k.createMissing(meta, hashes, keys, recs, u, initBuf);
            assert.equal(h.u32[(meta >>> 2) + M_SIZE] - before, created, `${backend} init ${init} d ${d} batch ${b}`);
          } else {
            u = k.dedupResolve(meta, ids, n, hashes, inv, recs, tab, 0, 0, d, 0, 0);
          }
          trace += `${u}:${Array.from(h.u32.subarray(inv >>> 2, (inv >>> 2) + n)).join(",")}:${Array.from(h.u32.subarray(recs >>> 2, (recs >>> 2) + u)).join(",")};`;
          assert.ok(h.u32.subarray(tab >>> 2, (tab >>> 2) + cap * 2).every((x) => x === 0), "the dedup table is left zero");
        }
        outs.push(trace);
        const chunk = h.u32[h.u32[(meta >>> 2) + M_CHUNKS] >>> 2], size = h.u32[(meta >>> 2) + M_SIZE];
        states.push(h.u8.slice(chunk, chunk + size * (HEADER_BYTES + 16 * d)));
        states.push(new Uint8Array(Uint32Array.of(size, h.u32[(meta >>> 2) + M_ZEROS]).buffer));
      }
      for (let i = 1; i < outs.length; i++) {
        assert.equal(outs[i], outs[0], `init ${init[0]}, d ${d}, run ${i}: inverse and records`);
        assert.deepEqual(states[2 * i], states[0], `init ${init[0]}, d ${d}, run ${i}: rows`);
        assert.deepEqual(states[2 * i + 1], states[1], `init ${init[0]}, d ${d}, run ${i}: size and zero rows`);
      }
      const [size, zeros] = new Uint32Array(states[1].buffer);
      assert.ok(size > 150, `rows created: ${size}`);
      assert.equal(zeros, init[0] === 0 ? size : 0, "zero-initialised rows, and only they, are counted as zero rows");
    }
  }
});

/**
 * Steps a table through batches; with `ahead`, each next batch is looked up
 * ahead before the step. `between` runs after each step, with the next
 * batch's lookup in flight.
 */
function drive(t: SparseTable | ShardedTable, batches: BigUint64Array[], d: number, ahead: boolean, between?: (s: number) => void): void {
  const r = rng(3);
  for (let s = 0; s < batches.length; s++) {
    t.gatherBatch(batches[s]);
    if (ahead && s + 1 < batches.length) t.lookahead(batches[s + 1]);
    t.stepBatch(Float32Array.from({ length: batches[s].length * d }, () => r() - 0.5));
    between?.(s);
  }
}

function batchesOf(seed: number, count: number): BigUint64Array[] {
  const r = rng(seed);
  return Array.from({ length: count }, (_, s) => {
    // Sizes vary, one batch larger than any before (no lookahead for it: no room).
    const n = s === 30 ? 900 : 100 + Math.floor(r() * 150);
    return BigUint64Array.from({ length: n }, () => BigInt(Math.floor(1 / (r() + 0.001))) + BigInt(s * 37));
  });
}

test("a table stepped with a lookahead before each step ends byte for byte as one without; other calls in between drop it safely", async () => {
  await lookaheadReady();
  const d = 6, opt = createOptimizer("group-adam", { lr: 0.05, l21: 0.2, l1: 1e-3 });
  const batches = batchesOf(11, 60);
  const plain = opt.table({ rowLength: d, seed: 2 }), ahead = opt.table({ rowLength: d, seed: 2 });
  drive(plain, batches, d, false);
  let used = 0;
  const orig = ahead.lookahead.bind(ahead);
  ahead.lookahead = (ids) => { const ok = orig(ids); used += ok ? 1 : 0; return ok; };
  drive(ahead, batches, d, true, (s) => {
    // Reads leave the lookahead in flight; an evaluation gather drops it (and must not change the table).
    void ahead.size;
    void ahead.get(5n);
    if (s % 17 === 0) ahead.gather(BigUint64Array.of(1n, 2n, 99999999n), undefined, { create: false });
  });
  assert.ok(used >= 50, `lookaheads posted: ${used}`);
  assert.deepEqual(ahead.save(), plain.save());
  assert.ok(plain.size > 1000 && plain.zeroRows > 0, `size ${plain.size}, zero rows ${plain.zeroRows}`);
  // A lookahead never consumed (the next call is a plain step) changes nothing either.
  ahead.lookahead(batches[0]);
  ahead.step(batches[1], new Float32Array(batches[1].length * d).fill(0.1));
  plain.step(batches[1], new Float32Array(batches[1].length * d).fill(0.1));
  assert.deepEqual(ahead.save(), plain.save());
});

test("a sharded table with lookaheads = one without, byte for byte per shard", async () => {
  await lookaheadReady();
  const d = 4, opt = createOptimizer("adam", { lr: 0.02 });
  const batches = batchesOf(12, 40);
  const make = (): ShardedTable => new ShardedTable([0, 1, 2].map(() => opt.table({ rowLength: d, seed: 9 })));
  const plain = make(), ahead = make();
  drive(plain, batches, d, false);
  drive(ahead, batches, d, true);
  assert.deepEqual(ahead.save(), plain.save());
});

test("training with the lookahead gives the model without it, and a bad row in the next batch still fails after this batch", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sparsectr-lookahead-"));
  try {
    const path = join(dir, "train.txt");
    await generateFiles(createGenerator(synthConfig({ preset: "criteo", seed: 6, scale: 0.01 })), { format: "criteo", start: 0, rows: 3000, out: path, truth: null });
    const run = async (p: string, lookahead: boolean, shards = 1): Promise<{ sha: string; rows: number; error?: string }> => {
      const f = prefetched(await openData(p, { batchSize: 256 }), true);
      const m = buildModel(f.fields.length, { model: "dcn", optimizer: "group-adam", hyper: { l21: 1e-3 }, seed: 5, shards });
      let rows = 0;
      try {
        await trainModel(m, f, undefined, (pr) => { rows = pr.rows; }, { lookahead });
      } catch (e) {
        return { sha: m.sha256(), rows, error: (e as Error).message };
      }
      return { sha: m.sha256(), rows };
    };
    const a = await run(path, false), b = await run(path, true), c = await run(path, true, 2);
    assert.equal(b.sha, a.sha);
    assert.equal(c.sha, a.sha);
    assert.equal(b.rows, 3000);
    // A malformed line in the 6th batch: the first 5 batches train either way, then the same error.
    const lines = (await import("node:fs")).readFileSync(path, "utf8").split("\n");
    lines[5 * 256 + 10] = "x\tnot-a-number";
    const bad = join(dir, "bad.txt");
    writeFileSync(bad, lines.join("\n"));
    const e1 = await run(bad, false), e2 = await run(bad, true);
    assert.ok(e1.error && /bad\.txt:1291: column label/.test(e1.error), e1.error);
    assert.equal(e2.error, e1.error);
    assert.equal(e2.rows, 5 * 256);
    assert.equal(e2.rows, e1.rows);
    assert.equal(e2.sha, e1.sha);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("trainModel keeps to the range the file was opened with (each end on its own), and a range given to it overrides that", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sparsectr-range-"));
  try {
    const path = join(dir, "train.txt");
    await generateFiles(createGenerator(synthConfig({ preset: "criteo", seed: 2, scale: 0.01 })), { format: "criteo", start: 0, rows: 1000, out: path, truth: null });
    const rows = async (opened: { start?: number; end?: number } | undefined, given?: { start?: number; end?: number }, prefetch = false): Promise<number> => {
      const f = prefetched(await openData(path, { batchSize: 128, range: opened }), prefetch);
      const m = buildModel(f.fields.length, { model: "lr", optimizer: "adam", seed: 1 });
      return (await trainModel(m, f, given)).rows;
    };
    assert.equal(await rows(undefined), 1000);
    assert.equal(await rows({ end: 700 }), 700);
    assert.equal(await rows({ end: 700 }, undefined, true), 700);
    assert.equal(await rows({ start: 300, end: 700 }), 400);
    assert.equal(await rows({ start: 300 }), 700);
    assert.equal(await rows({ start: 300, end: 700 }, { end: 900 }), 600);
    assert.equal(await rows({ end: 700 }, { start: 100, end: 200 }), 100);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a lookup that fails on the lookahead thread is reported by the call that waits for it, and later tables look up on their own thread", () => {
  // In a child process: a failure marks the process's lookahead thread as failed.
  const script = `
    const { lookaheadReady, lookaheadThread } = await import(${JSON.stringify(new URL("../../src/optim/lookahead.js", import.meta.url).href)});
    const { createOptimizer } = await import(${JSON.stringify(new URL("../../src/index.js", import.meta.url).href)});
    await lookaheadReady();
    const t = createOptimizer("adam", {}).table({ rowLength: 4 });
    t.gatherBatch(BigUint64Array.of(1n, 2n, 3n));
    // A job whose ids lie far outside the memory: the kernel traps on the thread.
    const seq = lookaheadThread().post({ memory: t.arena.heap.memory, meta: 0, ids: 2 ** 31, n: 64, hashes: 0, inverse: 0, recs: 0, keys: 0, tab: 0, init: 0 });
    let message = "";
    try { lookaheadThread().wait(seq); } catch (e) { message = e.message; }
    const again = t.lookahead(BigUint64Array.of(4n, 5n));
    const rows = t.gatherBatch(BigUint64Array.of(4n, 5n)).length;
    console.log(JSON.stringify({ message, again, rows }));
  `;
  const dir = mkdtempSync(join(tmpdir(), "sparsectr-lookahead-fail-")), file = join(dir, "run.mjs");
  writeFileSync(file, script);
  const r = spawnSync(process.execPath, [file], { encoding: "utf8", timeout: 60_000 });
  rmSync(dir, { recursive: true, force: true });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split("\n").pop()!) as { message: string; again: boolean; rows: number };
  assert.match(out.message, /id lookup failed on the lookahead thread/);
  assert.equal(out.again, false, "no lookahead once the thread failed");
  assert.equal(out.rows, 8, "the table still works, on its own thread");
});
