// Scoring threads (src/train/score-threads.ts): the test evaluation and the
// calibration's logits on several threads equal evaluateModel's and
// collectLogits' on this thread bit for bit: rows of a range entered at
// seek points, a separate file whose rows one scan counts, an uneven split,
// admission's OOV rows and a calibration. No row is created, and the
// tables' memory does not grow from one scoring to the next (the threads'
// scratch goes back: unshareTable). The real samples (two Criteo files as
// one, Avazu's csv with its header, iPinYou's libsvm rows through their
// feature dictionary, with several features a field) score the same too. A
// malformed row fails with its file and line; where threads cannot score
// (skipped bad rows) this thread scores.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openData } from "../../src/data/index.js";
import { seekPoints } from "../../src/data/seek.js";
import { createGenerator, generateFiles, synthConfig } from "../../src/data/synth/index.js";
import { configureLayers } from "../../src/kernels/layers/index.js";
import { createOptimizer } from "../../src/optim/optimizer.js";
import { shareTable, unshareTable } from "../../src/optim/table-share.js";
import type { SparseTable } from "../../src/optim/table.js";
import { collectLogits } from "../../src/train/calibration.js";
import { evaluateModel } from "../../src/train/evaluate.js";
import { buildModel, type CtrModel, type TrainSettings } from "../../src/train/model.js";
import { evaluateThreads, logitsThreads, scoringThreads, START_ROWS } from "../../src/train/score-threads.js";
import { trainModel } from "../../src/train/trainer.js";
import { haveShared, sharedFile } from "../helpers/shared.js";

const dir = mkdtempSync(join(tmpdir(), "sparsectr-score-threads-"));
const train = join(dir, "train.txt"), testPath = join(dir, "test.txt");
const gen = createGenerator(synthConfig({ preset: "criteo", seed: 5, scale: 0.02 }));
await generateFiles(gen, { format: "criteo", start: 0, rows: 30_000, out: train, truth: null });
await generateFiles(gen, { format: "criteo", start: 30_000, rows: 9_001, out: testPath, truth: null });
test.after(() => rmSync(dir, { recursive: true, force: true }));
configureLayers({ threads: 1 });

const SETTINGS: TrainSettings = { model: "dcn", optimizer: "group-adam", hyper: { lr: 0.002, l21: 0.25 / 256 }, batch: 256, epochs: 1, seed: 7, minCount: 2 };
const SMALL = { startRows: 1000 };

/** Bytes of each table's WebAssembly memory. */
const heapBytes = (m: CtrModel): number[] => (m.tables as SparseTable[]).map((t) => t.arena.heap.byteLength);

/** A model trained on the first 20,000 rows (minCount 1: without admission counts). */
async function trained(minCount: number): Promise<CtrModel> {
  const file = await openData(train, { batchSize: 256 });
  const m = buildModel(file.fields.length, { ...SETTINGS, minCount });
  await trainModel(m, file, { start: 0, end: 20_000 });
  m.calibration = { scale: 0.9, bias: 0.1 };
  return m;
}

test("three threads score a range of the training file (at its seek points) and a separate file as this thread does, bit for bit", async () => {
  for (const minCount of [2, 1]) {
    const m = await trained(minCount);
    assert.equal(m.admission !== undefined, minCount === 2);
    const sizes = m.tables.map((t) => t.size);
    let bytes: number[] | undefined;
    const inTrain = await openData(train, { batchSize: 4096, seek: await seekPoints(await openData(train)) });
    const separate = await openData(testPath, { batchSize: 4096 });
    // 10,000 validation rows of the training file (from a seek point on), and the 9,001 rows of the test file (counted by a scan).
    for (const [file, range, rows] of [[inTrain, { start: 20_000, end: 30_000 }, 10_000], [separate, undefined, 9_001]] as const) {
      for (const threads of [3, 2]) {
        const got = await evaluateThreads(m, file, range, threads, SMALL), want = await evaluateModel(m, file, range);
        // The first scoring (three threads, the most scratch) may grow the tables' memory; none after it does.
        bytes ??= heapBytes(m);
        assert.deepEqual(got, { ...want, threads }, `minCount ${minCount}, ${file.path}, ${threads} threads: figures`);
        assert.equal(got.rows, rows);
        const z = await logitsThreads(m, file, range, threads, SMALL), zw = await collectLogits((b, o) => m.logits(b, o), file, range);
        assert.equal(z.threads, threads);
        assert.deepEqual(z.z, zw.z, `${threads} threads: logits`);
        assert.deepEqual(z.y, zw.y, `${threads} threads: labels`);
        // Scored as logits: the same figures, and the logits with them.
        const { logits, ...figures } = await evaluateThreads(m, file, range, threads, { ...SMALL, logits: true });
        assert.deepEqual(figures, { ...want, threads }, `${threads} threads: figures from logits`);
        assert.deepEqual(logits, { z: zw.z, y: zw.y, threads }, `${threads} threads: the evaluation's logits`);
      }
    }
    if (m.admission) assert.ok(m.admission.admitted < m.admission.seen, "some features unadmitted: OOV rows were read");
    assert.deepEqual(m.tables.map((t) => t.size), sizes, "no row created");
    // Seven scorings by threads after the first, and the tables' memory is what the first left: every thread's scratch came back.
    assert.deepEqual(heapBytes(m), bytes, "the tables' memory did not grow");
  }
});

const REAL = ["criteo/train.txt", "criteo/dev.txt", "avazu/sample.csv", "ipinyou/train.fm.txt", "ipinyou/featindex.fm.txt"];

test("the real samples: three threads score as this thread does, bit for bit (two files as one, csv with a header, libsvm with several features a field)", { skip: !haveShared(...REAL) && "../shared/data is not here" }, async () => {
  const cases = [
    { paths: [sharedFile("criteo/train.txt"), sharedFile("criteo/dev.txt")], opts: {}, model: "dcn", rows: 7_609 },
    { paths: [sharedFile("avazu/sample.csv")], opts: {}, model: "mlp", rows: 999 },
    { paths: [sharedFile("ipinyou/train.fm.txt")], opts: { featindex: sharedFile("ipinyou/featindex.fm.txt") }, model: "opnn", rows: 26_773 },
  ] as const;
  for (const c of cases) {
    const f = await openData(c.paths, { ...c.opts, batchSize: 256 });
    const m = buildModel(f.fields.length, { ...SETTINGS, model: c.model });
    await trainModel(m, f, { start: 0, end: Math.min(c.rows, 6_000) });
    const ev = await openData(c.paths, { ...c.opts, batchSize: 4096 });
    const want = await evaluateModel(m, ev);
    assert.equal(want.rows, c.rows);
    assert.deepEqual(await evaluateThreads(m, ev, undefined, 3, { startRows: 0 }), { ...want, threads: 3 }, c.paths[0]);
  }
});

test("shareTable's scratch goes back with unshareTable: sharing again and again leaves the memory as it was", () => {
  const t = createOptimizer("group-adam", { lr: 0.01 }).table({ rowLength: 8, seed: 1 });
  t.gather(new BigUint64Array([1n, 2n, 3n]));
  const share = shareTable(t, 4, 4096, 100);
  unshareTable(t, share);
  const bytes = t.arena.heap.byteLength;
  for (let k = 0; k < 20; k++) unshareTable(t, shareTable(t, 4, 4096, 100));
  assert.equal(t.arena.heap.byteLength, bytes);
  assert.equal(t.size, 3);
  const other = createOptimizer("group-adam", { lr: 0.01 }).table({ rowLength: 8, seed: 1 });
  assert.throws(() => unshareTable(other, shareTable(t, 1, 64, 0)), /not this table's/);
});

test("threads score a file where they save more than starting one costs", () => {
  assert.equal(START_ROWS, 100_000);
  // rows x (1 - 1/threads) > START_ROWS: 2 threads from 200,001 rows, 16 from 106,667.
  for (const [rows, threads, want] of [[200_000, 2, 1], [200_001, 2, 2], [106_666, 16, 1], [106_667, 16, 16], [10_000_000, 1, 1], [5, 8, 1], [0, 4, 1]]) {
    assert.equal(scoringThreads(rows, threads), want, `${rows} rows, ${threads} threads`);
  }
  assert.equal(scoringThreads(3, 8, 0), 3, "no more threads than rows");
});

test("too few rows for threads to pay, one thread, or skipped bad rows: this thread scores them", async () => {
  const m = await trained(2);
  const file = await openData(testPath, { batchSize: 4096 });
  const one = { ...await evaluateModel(m, file), threads: 1 };
  assert.deepEqual(await evaluateThreads(m, file, undefined, 3), one, "9,001 rows: threads would not pay");
  assert.deepEqual(await evaluateThreads(m, file, undefined, 1, SMALL), one);
  const { logits, ...figures } = await evaluateThreads(m, file, undefined, 1, { ...SMALL, logits: true });
  assert.deepEqual(figures, one, "this thread, from the logits");
  const zw = await collectLogits((b, o) => m.logits(b, o), file);
  assert.deepEqual(logits, { z: zw.z, y: zw.y, threads: 1 });
  // A malformed row skipped and counted by this thread's reader.
  const lines = readFileSync(testPath, "utf8").split("\n");
  lines[4000] = "not a row";
  const bad = join(dir, "skipped.txt");
  writeFileSync(bad, lines.join("\n"));
  const skipping = await openData(bad, { batchSize: 4096, skipBadRows: true });
  const got = await evaluateThreads(m, skipping, undefined, 3, SMALL);
  assert.equal(skipping.stats.skipped, 1, "the skip is counted by this thread's reader");
  assert.deepEqual(got, { ...await evaluateModel(m, await openData(bad, { batchSize: 4096, skipBadRows: true })), threads: 1 });
  assert.equal(got.rows, 9_000);
});

test("a malformed row in a thread's share fails the scoring with its file and line", async () => {
  const m = await trained(2);
  const lines = readFileSync(testPath, "utf8").split("\n");
  lines[7000] = "not a row";
  const bad = join(dir, "bad.txt");
  writeFileSync(bad, lines.join("\n"));
  await assert.rejects(evaluateThreads(m, await openData(bad, { batchSize: 4096 }), undefined, 3, SMALL), (e: Error) => {
    assert.match(e.message, new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:7001`));
    return true;
  });
  const bytes = heapBytes(m);
  await evaluateThreads(m, await openData(testPath, { batchSize: 4096 }), undefined, 3, SMALL);
  assert.deepEqual(heapBytes(m), bytes, "a failed scoring gave its scratch back too");
});
