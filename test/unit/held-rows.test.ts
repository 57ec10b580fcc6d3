// Rows held in memory (data/held.ts): a pass over the held range yields the
// batches and statistics of a pass over the file (keys, labels, lines, skipped
// rows) without reading it; other ranges, passes stopped early and ranges over
// the budget read the file; a model scores the held rows as the file's.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openData, type DataFile } from "../../src/index.js";
import { batchBytes, heldRows } from "../../src/data/held.js";
import { createGenerator, generateFiles, synthConfig } from "../../src/data/synth/index.js";
import { buildModel } from "../../src/train/model.js";
import { trainModel } from "../../src/train/trainer.js";
import { collectLogits } from "../../src/train/calibration.js";
import { plantBadRows } from "../helpers/bad-rows.js";

const dir = mkdtempSync(join(tmpdir(), "sparsectr-held-"));
const path = join(dir, "rows.txt");
await generateFiles(createGenerator(synthConfig({ preset: "criteo", seed: 5, scale: 0.01 })), { format: "criteo", start: 0, rows: 12_000, out: path, truth: null });
// Malformed rows in the range scored below, to be skipped and counted.
plantBadRows(path, { short: 9_100, notInteger: 10_500 });
test.after(() => rmSync(dir, { recursive: true, force: true }));

const RANGE = { start: 9_000, end: 12_000 };

/** `file` with its passes counted. */
function counted(file: DataFile): { file: DataFile; passes: () => number } {
  let n = 0;
  const f: DataFile = { ...file, batches: (r) => { n++; return file.batches(r); } };
  Object.defineProperty(f, "stats", { get: () => file.stats });
  return { file: f, passes: () => n };
}

async function collect(f: DataFile, range?: { start?: number; end?: number }, stopAfter = Infinity) {
  const keys: bigint[] = [], labels: number[] = [], lineNos: number[] = [], seen: number[] = [];
  let batches = 0;
  for await (const b of f.batches(range)) {
    keys.push(...b.keys);
    labels.push(...b.labels);
    lineNos.push(...b.lines);
    seen.push(b.seen);
    if (++batches >= stopAfter) break;
  }
  return { keys, labels, lineNos, seen, stats: { ...f.stats, firstBad: f.stats.firstBad.map((e) => e.message) } };
}

test("held rows: a second pass over the range yields the file's batches and statistics without reading it", async () => {
  const opts = { batchSize: 512, skipBadRows: true };
  const fresh = await collect(await openData(path, opts), RANGE);
  assert.equal(fresh.stats.skipped, 2, "the bad rows are in the range");
  const c = counted(await openData(path, opts));
  const held = heldRows(c.file, 64 << 20);
  for (let i = 0; i < 3; i++) {
    const got = await collect(held, RANGE);
    assert.deepEqual(got, fresh, `pass ${i + 1}`);
    assert.equal(c.passes(), 1, `pass ${i + 1}: the file was read once`);
  }
  // Another range reads the file (and is not held: one range is).
  const other = await collect(held, { start: 0, end: 2_000 });
  assert.deepEqual(other, await collect(await openData(path, opts), { start: 0, end: 2_000 }));
  await collect(held, { start: 0, end: 2_000 });
  assert.equal(c.passes(), 3);
  // The held range still replays.
  assert.deepEqual(await collect(held, RANGE), fresh);
  assert.equal(c.passes(), 3);
});

test("held rows: a pass stopped early or failed holds nothing; a range over the budget is read every time", async () => {
  // A bad row fails a pass that does not skip them: the error comes through, every time.
  const strict = counted(await openData(path, { batchSize: 512 }));
  const failing = heldRows(strict.file, 64 << 20);
  for (let i = 0; i < 2; i++) await assert.rejects(collect(failing, RANGE), /rows\.txt:9101: column label/);
  assert.equal(strict.passes(), 2);
  const opts = { batchSize: 512, skipBadRows: true };
  const fresh = await collect(await openData(path, opts), RANGE);
  const c = counted(await openData(path, opts));
  const held = heldRows(c.file, 64 << 20);
  await collect(held, RANGE, 2);
  assert.deepEqual(await collect(held, RANGE), fresh, "the pass after an early stop reads the whole range");
  assert.equal(c.passes(), 2);
  assert.deepEqual(await collect(held, RANGE), fresh);
  assert.equal(c.passes(), 2, "then it is held");
  // A budget below the range's batches.
  let bytes = 0;
  for await (const b of (await openData(path, opts)).batches(RANGE)) bytes += batchBytes(b);
  const small = counted(await openData(path, opts));
  const tight = heldRows(small.file, bytes - 1);
  for (let i = 0; i < 3; i++) assert.deepEqual(await collect(tight, RANGE), fresh);
  assert.equal(small.passes(), 3, "over the budget: read every time");
  const fits = counted(await openData(path, opts));
  const exact = heldRows(fits.file, bytes);
  for (let i = 0; i < 3; i++) assert.deepEqual(await collect(exact, RANGE), fresh);
  assert.equal(fits.passes(), 1, "within the budget: held");
  assert.throws(() => heldRows(fits.file, -1), /budget/);
});

test("held rows: a model scores the held rows as the file's, bit for bit", async () => {
  const train = await openData(path, { batchSize: 256, skipBadRows: true });
  const m = buildModel(train.fields.length, { model: "dcn", optimizer: "group-adam", seed: 2, batch: 256, minCount: 2, modelConfig: { hidden: [16], crossLayers: 1 } });
  await trainModel(m, train, { start: 0, end: 9_000 });
  const file = await openData(path, { batchSize: 1024, skipBadRows: true });
  const want = await collectLogits((b, out) => m.logits(b, out), file, RANGE);
  const held = heldRows(await openData(path, { batchSize: 1024, skipBadRows: true }), 64 << 20);
  for (let i = 0; i < 3; i++) {
    const got = await collectLogits((b, out) => m.logits(b, out), held, RANGE);
    assert.deepEqual(got.z, want.z, `pass ${i + 1}: logits`);
    assert.deepEqual(got.y, want.y, `pass ${i + 1}: labels`);
  }
});
