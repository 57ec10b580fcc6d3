// Reading on a second thread changes nothing but the wall time: the same
// batches (keys, labels, line numbers, bad-row counts), the same errors with
// their file:line, and the same trained model bit for bit.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openData, prefetched, DataError, type ReadOptions } from "../../src/index.js";
import { createGenerator, generateFiles, synthConfig } from "../../src/data/synth/index.js";
import { buildModel } from "../../src/train/model.js";
import { trainModel } from "../../src/train/trainer.js";
import { evaluateModel } from "../../src/train/evaluate.js";
import { plantBadRows } from "../helpers/bad-rows.js";

const dir = mkdtempSync(join(tmpdir(), "sparsectr-prefetch-"));
const path = join(dir, "train.txt");
await generateFiles(createGenerator(synthConfig({ preset: "criteo", seed: 3, scale: 0.01 })), { format: "criteo", start: 0, rows: 20_000, out: path, truth: null });
// Two malformed rows to be skipped and counted.
const bad = join(dir, "bad.txt");
plantBadRows(path, { short: 100, notInteger: 15_000 }, bad);
test.after(() => rmSync(dir, { recursive: true, force: true }));

async function collect(p: string, opts: ReadOptions, range?: { start?: number; end?: number }, depth: number | boolean = false) {
  const f = prefetched(await openData(p, opts), depth);
  const keys: bigint[] = [], labels: number[] = [], lineNos: number[] = [], sizes: number[] = [];
  for await (const b of f.batches(range)) {
    sizes.push(b.rows);
    keys.push(...b.keys);
    labels.push(...b.labels);
    lineNos.push(...b.lines);
  }
  return { keys, labels, lineNos, sizes, stats: { ...f.stats, firstBad: f.stats.firstBad.map((e) => e.message) } };
}

test("prefetched batches equal the direct ones: keys, labels, lines, ranges, skipped rows", async () => {
  for (const [p, opts, range] of [
    [path, { batchSize: 512 }, undefined],
    [path, { batchSize: 300 }, { start: 1234, end: 17_777 }],
    [bad, { batchSize: 1000, skipBadRows: true }, undefined],
  ] as const) {
    const direct = await collect(p, opts, range), pre = await collect(p, opts, range, 3);
    assert.ok(direct.keys.length > 0);
    assert.deepEqual(pre.sizes, direct.sizes);
    assert.deepEqual(pre.keys, direct.keys);
    assert.deepEqual(pre.labels, direct.labels);
    assert.deepEqual(pre.lineNos, direct.lineNos);
    assert.deepEqual(pre.stats, direct.stats);
  }
  const skipped = await collect(bad, { skipBadRows: true }, undefined, true);
  assert.equal(skipped.stats.skipped, 2);
  assert.match(skipped.stats.firstBad[0], /bad\.txt:101: /);
});

test("a consumer that pauses until the reader sleeps (it naps about 200 ms first) wakes it and gets every batch in order", { timeout: 30_000 }, async () => {
  const direct = await collect(path, { batchSize: 2000 });
  const f = prefetched(await openData(path, { batchSize: 2000 }), 2);
  const keys: bigint[] = [];
  let n = 0;
  for await (const b of f.batches()) {
    keys.push(...b.keys);
    // Twice, long pauses with the reader two batches ahead and out of credit.
    if (++n === 2 || n === 6) await new Promise((r) => setTimeout(r, 600));
  }
  assert.equal(n, direct.sizes.length);
  assert.deepEqual(keys, direct.keys);
});

test("a bad row stops a prefetched pass with the reader's DataError (file, line, column)", async () => {
  const f = prefetched(await openData(bad), true);
  let n = 0;
  await assert.rejects(async () => { for await (const b of f.batches()) n += b.rows; }, (e: unknown) => {
    assert.ok(e instanceof DataError, String(e));
    assert.equal(e.file, bad);
    assert.equal(e.line, 101);
    return true;
  });
  assert.ok(n <= 100, `rows before the error ${n}`);
  await assert.rejects(openData(join(dir, "missing.txt"), { format: "criteo" }).then(async (g) => { for await (const _ of prefetched(g, true).batches()) void _; }), /missing\.txt/);
});

test("leaving a prefetched pass early stops its thread; a new pass starts over", async () => {
  const f = prefetched(await openData(path, { batchSize: 100 }), 2);
  let first: bigint | undefined;
  for await (const b of f.batches()) { first = b.keys[0]; break; }
  const again = await collect(path, { batchSize: 100 });
  for await (const b of f.batches()) { assert.equal(b.keys[0], again.keys[0]); assert.equal(first, again.keys[0]); break; }
});

test("training from a prefetched file gives the same model bit for bit", async () => {
  const shas: string[] = [];
  for (const prefetch of [false, true]) {
    const f = prefetched(await openData(path, { batchSize: 256 }), prefetch);
    const m = buildModel(f.fields.length, { model: "dcn", optimizer: "group-adam", hyper: { l21: 1e-3 }, seed: 5, epochs: 2 });
    const r = await trainModel(m, f);
    assert.equal(r.rows, 40_000);
    const e = await evaluateModel(m, f, { start: 15_000 });
    assert.ok(e.auc > 0.55, `AUC ${e.auc}`);
    shas.push(m.sha256() + e.auc);
  }
  assert.equal(shas[0], shas[1]);
});

test("prefetch depth is checked", async () => {
  const f = await openData(path);
  assert.throws(() => prefetched(f, -1), /prefetch depth -1/);
  assert.throws(() => prefetched(f, 1.5), /prefetch depth 1.5/);
  assert.equal(prefetched(f, false), f);
});
