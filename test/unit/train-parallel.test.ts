// The data-parallel trainer (src/train/parallel.ts): one worker gives the
// deterministic trainer's model bit for bit (the shared tables, shared
// counts, the dense step at the barrier and the seek points change nothing);
// two and four workers (four oversubscribe this machine's two cores) reach
// the deterministic trainer's test AUC on generated data; a pass split over
// workers trains every row once; a failing worker stops the run with its
// error; threads started ahead (a pool) train as the run's own, and serve
// job after job (runs and scorings), a failed run's threads ending.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openData } from "../../src/data/index.js";
import { createGenerator, generateFiles, synthConfig } from "../../src/data/synth/index.js";
import { configureLayers } from "../../src/kernels/layers/index.js";
import { buildModel, type TrainSettings } from "../../src/train/model.js";
import { createOptimizer } from "../../src/optim/optimizer.js";
import type { SparseTable } from "../../src/optim/table.js";
import { trainModel } from "../../src/train/trainer.js";
import { trainParallel } from "../../src/train/parallel.js";
import { ROOM_BYTES, roomAhead, roundIds, scratchIds, splitRows } from "../../src/train/parallel-plan.js";
import { WorkerPool } from "../../src/train/parallel-pool.js";
import { evaluateThreads } from "../../src/train/score-threads.js";
import { staleMomentum, workerMomentum } from "../../src/train/stale-momentum.js";
import { evaluateModel } from "../../src/train/evaluate.js";

const dir = mkdtempSync(join(tmpdir(), "sparsectr-parallel-"));
const train = join(dir, "train.txt"), testFile = join(dir, "test.txt");
const gen = createGenerator(synthConfig({ preset: "criteo", seed: 3, scale: 0.05 }));
await generateFiles(gen, { format: "criteo", start: 0, rows: 120_000, out: train, truth: null });
await generateFiles(gen, { format: "criteo", start: 120_000, rows: 30_000, out: testFile, truth: null });
test.after(() => rmSync(dir, { recursive: true, force: true }));
configureLayers({ threads: 1 });

const SETTINGS: TrainSettings = { model: "dcn", optimizer: "group-adam", hyper: { lr: 0.002, l21: 0.25 / 512 }, batch: 512, epochs: 1, seed: 7, minCount: 2 };
const SETTINGS_512 = SETTINGS;

test("splitRows cuts a range into contiguous parts that cover it once", () => {
  for (const [a, b, n] of [[0, 10, 3], [5, 6, 4], [0, 1000, 7], [3, 3, 2]]) {
    const parts = splitRows(a, b, n);
    assert.equal(parts.length, n);
    assert.equal(parts[0].start, a);
    assert.equal(parts[n - 1].end, b);
    for (let k = 1; k < n; k++) assert.equal(parts[k].start, parts[k - 1].end);
    for (const p of parts) assert.ok(p.end - p.start <= Math.ceil((b - a) / n));
  }
});

test("a worker's table scratch holds every share of a split round (its merge takes one call: no row steps twice a round)", async () => {
  const file = await openData(train, { batchSize: 512 });
  const m = buildModel(file.fields.length, SETTINGS), F = file.fields.length;
  for (const N of [1, 2, 3, 7, 16]) {
    // N shares of ceil(512 / N) rows, one key a field: 513 rows' ids with 3 workers, more than a batch's.
    assert.equal(scratchIds(m, file, N, "split"), N * Math.ceil(512 / N) * F);
    assert.ok(scratchIds(m, file, N, "split") >= 512 * F);
    for (const mode of ["sequential", "sync", "async"] as const) assert.equal(scratchIds(m, file, N, mode), 512 * F, mode);
    // A round's ids: one batch over all the workers in split rounds, a batch of each otherwise.
    assert.equal(roundIds(m, file, N, "split"), N * Math.ceil(512 / N) * F);
    for (const mode of ["sequential", "sync", "async", "auto"] as const) assert.equal(roundIds(m, file, N, mode), N * 512 * F, mode);
  }
});

test("eight split workers reserve room for rounds of one batch, not of eight: the table's memory stays a small share of the 4 GiB limit", async () => {
  const file = await openData(train, { batchSize: 512 });
  const m = buildModel(file.fields.length, SETTINGS);
  await trainParallel(m, file, { start: 0, end: 8_192 }, 8, undefined, {}, { denseUpdates: "split" });
  // 64 rounds of room of one batch's ids (about 2.5M rows of room with 39 fields) fit in 512 MiB; of eight batches' they took 2 GiB.
  const bytes = (m.tables[0] as SparseTable).arena.heap.byteLength;
  assert.ok(bytes <= 512 * 2 ** 20, `${bytes / 2 ** 20} MiB`);
});

test("roomAhead: rounds of room, or the rows held, within ROOM_BYTES' worth, and never less than a round", () => {
  const round = 40_000, bytes = 312, cap = Math.floor(ROOM_BYTES / bytes);
  assert.equal(roomAhead(round, 0, bytes, 1), round);
  assert.equal(roomAhead(round, 0, bytes, 10), 10 * round);
  assert.equal(roomAhead(round, 900_000, bytes, 10), 900_000);
  assert.equal(roomAhead(round, 0, bytes, 64), cap);
  assert.equal(roomAhead(round, 5 * cap, bytes, 64), cap);
  assert.equal(roomAhead(cap + 1, 0, bytes, 64), cap + 1);
});

test("eight sequential workers with embeddings of 64 train: the room reserved ahead stays within ROOM_BYTES, not 64 rounds (11 GB, past the 4 GiB limit)", async () => {
  const file = await openData(train, { batchSize: 512 });
  const m = buildModel(file.fields.length, { ...SETTINGS, modelConfig: { embedding: 64 } });
  await trainParallel(m, file, { start: 0, end: 8_192 }, 8, undefined, {}, { denseUpdates: "sequential" });
  const t = m.tables[0] as SparseTable;
  assert.ok(t.size > 0);
  const bytes = t.arena.heap.byteLength;
  assert.ok(bytes <= 3 * ROOM_BYTES, `${bytes / 2 ** 20} MiB`);
});

test("sixteen sequential workers reserve room for a few rounds of counted keys, not 64 (2^25 slots, 384 MiB of plain counts)", async () => {
  const file = await openData(train, { batchSize: 512 });
  const m = buildModel(file.fields.length, SETTINGS);
  await trainParallel(m, file, { start: 0, end: 20_000 }, 16, undefined, {}, { denseUpdates: "sequential" });
  // A round brings 16 x 512 x 39 ids: 4 rounds of room and the keys seen fit in 2^22 slots (48 MiB of plain counts).
  assert.ok(m.admission!.seen > 10_000);
  assert.ok(m.admission!.bytes <= 48 * 2 ** 20, `${m.admission!.bytes / 2 ** 20} MiB`);
});

test("one worker of the data-parallel trainer gives the deterministic trainer's model bit for bit (two passes, admission)", async () => {
  const settings = { ...SETTINGS, epochs: 2 };
  const file = await openData(train, { batchSize: 512 });
  const a = buildModel(file.fields.length, settings);
  const ra = await trainModel(a, file, { start: 0, end: 40_000 });
  for (const dense of ["sync", "sequential", "split"] as const) {
    const b = buildModel(file.fields.length, settings);
    const rb = await trainParallel(b, file, { start: 0, end: 40_000 }, 1, undefined, {}, { denseUpdates: dense });
    assert.equal(rb.rows, ra.rows);
    assert.equal(rb.position.steps, ra.position.steps);
    assert.equal(b.tables[0].stepCount, a.tables[0].stepCount);
    assert.equal(b.admission!.seen, a.admission!.seen);
    assert.equal(b.admission!.routed, a.admission!.routed);
    assert.equal(b.sha256(), a.sha256(), `${dense}: model hash`);
  }
});

test("two and four workers (dense layers sync, sequential and async with two, split with four) reach the deterministic trainer's test AUC (within 0.002) and stay sparse", async () => {
  const file = await openData(train, { batchSize: 512 });
  const test = await openData(testFile, { batchSize: 4096 });
  const ref = buildModel(file.fields.length, SETTINGS);
  await trainModel(ref, file, { start: 0, end: 120_000 });
  const want = await evaluateModel(ref, test);
  for (const [workers, dense] of [[2, "sync"], [4, "sync"], [2, "sequential"], [2, "async"], [4, "split"]] as const) {
    const m = buildModel(file.fields.length, SETTINGS);
    const r = await trainParallel(m, file, { start: 0, end: 120_000 }, workers, undefined, {}, { denseUpdates: dense });
    assert.equal(r.rows, 120_000, "every row trained once");
    // Split: a round is one batch of 512 rows, the tables' one step (the deterministic trainer's 235 steps).
    if (dense === "split") assert.equal(m.tables[0].stepCount, Math.ceil(120_000 / 512));
    const got = await evaluateModel(m, test);
    assert.ok(Math.abs(got.auc - want.auc) <= 0.002, `${workers} workers, ${dense}: AUC ${got.auc} vs ${want.auc}`);
    assert.equal(m.admission!.seen, ref.admission!.seen, "the same features counted");
    // Sparsity: l21 zeroes rows with any number of workers (the rate is within a factor of two).
    assert.ok(m.featureRate > 0.5 * ref.featureRate && m.featureRate < 2 * ref.featureRate, `${workers} workers: feature rate ${m.featureRate} vs ${ref.featureRate}`);
    // Split rounds take the deterministic trainer's steps (each row one step a round with the batch's gradient): the quality goal's 5%.
    if (dense === "split") assert.ok(Math.abs(m.featureRate / ref.featureRate - 1) <= 0.05, `split: feature rate ${m.featureRate} vs ${ref.featureRate}`);
    console.log(`# ${workers} workers, ${dense}: AUC ${got.auc.toFixed(4)} (deterministic ${want.auc.toFixed(4)}), feature rate ${m.featureRate.toFixed(4)} (${ref.featureRate.toFixed(4)})`);
  }
});

test("stale steps' momentum: beta' = max(0, 1 - N (1 - beta)) for several workers with momentum rules, else the user's", () => {
  assert.equal(staleMomentum(0.9, 1), 0.9);
  assert.ok(Math.abs(staleMomentum(0.9, 2) - 0.8) < 1e-12 && Math.abs(staleMomentum(0.9, 4) - 0.6) < 1e-12);
  assert.ok(staleMomentum(0.9, 10) < 1e-12);
  assert.equal(staleMomentum(0.9, 16), 0);
  assert.equal(staleMomentum(0, 4), 0);
  assert.throws(() => staleMomentum(1.5, 2), /momentum 1.5 must be in \[0, 1\]/);
  assert.throws(() => staleMomentum(0.9, 0), /workers = 0/);
  const h = (o: "adam" | "momentum" | "adagrad" | "sgd" | "group-adam" | "amsgrad" | "adahessian") => createOptimizer(o).hyper;
  assert.deepEqual(workerMomentum({ optimizer: "adam", hyper: h("adam") }, 4), { beta1: staleMomentum(0.9, 4) });
  assert.deepEqual(workerMomentum({ optimizer: "amsgrad", hyper: h("amsgrad") }, 2), { beta1: staleMomentum(0.9, 2) });
  assert.deepEqual(workerMomentum({ optimizer: "adahessian", hyper: h("adahessian") }, 2), { beta1: staleMomentum(0.9, 2) });
  assert.deepEqual(workerMomentum({ optimizer: "group-adam", hyper: h("group-adam") }, 2), { beta1: staleMomentum(0.9, 2) });
  assert.deepEqual(workerMomentum({ optimizer: "momentum", hyper: h("momentum") }, 3), { momentum: staleMomentum(0.9, 3) });
  assert.equal(workerMomentum({ optimizer: "adam", hyper: h("adam") }, 1), undefined);
  assert.equal(workerMomentum({ optimizer: "adagrad", hyper: h("adagrad") }, 4), undefined);
  assert.equal(workerMomentum({ optimizer: "sgd", hyper: h("sgd") }, 4), undefined);
});

test("two workers, sequential dense updates: the feature rate within 5% of the deterministic trainer's and the AUC within 0.002 (2 seeds); the model keeps the user's beta1", async () => {
  // Without the compensated momentum the workers' stale dense steps cost 7-11% of the live features here.
  const file = await openData(train, { batchSize: 512 });
  const test = await openData(testFile, { batchSize: 4096 });
  let det = 0, par = 0, detAuc = 0, parAuc = 0;
  for (const seed of [1, 2]) {
    const ref = buildModel(file.fields.length, { ...SETTINGS, seed });
    await trainModel(ref, file, { start: 0, end: 120_000 });
    det += ref.liveFeatures;
    detAuc += (await evaluateModel(ref, test)).auc;
    const m = buildModel(file.fields.length, { ...SETTINGS, seed });
    await trainParallel(m, file, { start: 0, end: 120_000 }, 2, undefined, {}, { denseUpdates: "sequential" });
    par += m.liveFeatures;
    parAuc += (await evaluateModel(m, test)).auc;
    assert.ok(m.dense.every((d) => d.hyper.beta1 === 0.9), "the model's own beta1");
  }
  console.log(`# 2 workers sequential: live features ${par / 2} against ${det / 2}, AUC ${(parAuc / 2).toFixed(5)} against ${(detAuc / 2).toFixed(5)}`);
  assert.ok(Math.abs(par / det - 1) <= 0.05, `live features ${par / 2} against ${det / 2}`);
  assert.ok(Math.abs(parAuc - detAuc) / 2 <= 0.002, `AUC ${parAuc / 2} against ${detAuc / 2}`);
});

test("tables and counts that run out of room grow while the workers wait: the same rows and counts as one worker", async () => {
  const settings = { ...SETTINGS, batch: 128 };
  const file = await openData(train, { batchSize: 128 });
  const one = buildModel(file.fields.length, settings);
  await trainParallel(one, file, { start: 0, end: 30_000 }, 1);
  for (const dense of ["sync", "async"] as const) {
    const m = buildModel(file.fields.length, settings);
    const seen: number[] = [];
    // Room for one round at a time: the workers park to grow it again and again.
    await trainParallel(m, file, { start: 0, end: 30_000 }, 3, (p) => seen.push(p.rows), {}, { denseUpdates: dense, roomRounds: 1 });
    assert.equal(m.admission!.seen, one.admission!.seen, `${dense}: features counted`);
    assert.equal(m.admission!.admitted, one.admission!.admitted, `${dense}: features admitted`);
    assert.deepEqual(new Set(m.tables[0].ids()), new Set(one.tables[0].ids()), `${dense}: the rows are the admitted features' and the OOV rows`);
    assert.equal(m.tables[0].size, one.tables[0].size);
    let zeros = 0;
    for (const id of m.tables[0].ids()) zeros += m.tables[0].isZero(id) ? 1 : 0;
    assert.equal(m.tables[0].zeroRows, zeros, `${dense}: zero-row count`);
  }
});

test("a malformed row in one worker's part stops the run with its file and line", async () => {
  const bad = join(dir, "bad.txt");
  const lines = readFileSync(train, "utf8").split("\n").slice(0, 8000);
  lines[6000] = "not a row";
  writeFileSync(bad, lines.join("\n") + "\n");
  const file = await openData(bad, { batchSize: 512 });
  const m = buildModel(file.fields.length, SETTINGS);
  await assert.rejects(trainParallel(m, file, { start: 0, end: 8000 }, 2), (e: Error) => {
    assert.match(e.message, new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:6001`));
    return true;
  });
});

test("bad rows skipped by several workers are counted, reported and held to the run's limit, as one reader would", async () => {
  const bad = join(dir, "bad-skip.txt");
  const lines = readFileSync(train, "utf8").split("\n").slice(0, 8000);
  // Two bad rows in each worker's half.
  const at = [1000, 2500, 5000, 7000];
  for (const i of at) lines[i] = "not a row";
  writeFileSync(bad, lines.join("\n") + "\n");
  const reported: number[] = [];
  const file = await openData(bad, { batchSize: 512, skipBadRows: true, onSkip: (e) => reported.push(e.line) });
  const ref = buildModel(file.fields.length, SETTINGS);
  const rr = await trainModel(ref, await openData(bad, { batchSize: 512, skipBadRows: true }), { start: 0, end: 8000 });
  for (const dense of ["sequential", "async"] as const) {
    reported.length = 0;
    const m = buildModel(file.fields.length, SETTINGS);
    const r = await trainParallel(m, file, { start: 0, end: 8000 }, 2, undefined, {}, { denseUpdates: dense });
    assert.equal(r.rows, 8000 - at.length, `${dense}: every good row trained once`);
    assert.equal(r.rows, rr.rows);
    assert.equal(file.stats.skipped, at.length, `${dense}: the pass's skipped rows`);
    assert.deepEqual(file.stats.firstBad.map((e) => e.line).sort((a, b) => a - b), at.map((i) => i + 1));
    assert.deepEqual(reported.sort((a, b) => a - b), at.map((i) => i + 1), `${dense}: onSkip saw each bad row`);
    assert.equal(m.admission!.seen, ref.admission!.seen, `${dense}: the same features counted`);
  }
  // The limit is the run's: 4 bad rows pass { count: 3 } though no worker's part holds more than 2.
  const strict = await openData(bad, { batchSize: 512, skipBadRows: true, maxBadRows: { count: 3 } });
  await assert.rejects(trainParallel(buildModel(file.fields.length, SETTINGS), strict, { start: 0, end: 8000 }, 2), (e: Error) => {
    assert.equal(e.name, "DataError");
    assert.match(e.message, /too many malformed rows: 4 of \d+ rows read were skipped, more than the limit of 3 rows/);
    return true;
  });
  // And a fraction over every worker's rows: 4 of 8000 is over 0.04%.
  const frac = (fraction: number): Promise<unknown> => openData(bad, { batchSize: 512, skipBadRows: true, maxBadRows: { fraction } })
    .then((f) => trainParallel(buildModel(f.fields.length, SETTINGS), f, { start: 0, end: 8000 }, 2));
  await assert.rejects(frac(0.0004), /too many malformed rows: \d of \d+ rows read/);
  await frac(0.002);
});

test("skipNonFinite: workers skip the batches whose loss is not finite, step nothing from them, and count them", async () => {
  // lr 1e8: a step makes the next losses overflow, while the weights stay far from float32's limit (about 1e26 at most).
  // (At 1e30 an asynchronous worker's torn read of the weights may give a finite but huge gradient whose step overflows them.)
  const settings: TrainSettings = { ...SETTINGS, model: "mlp", optimizer: "sgd", hyper: { lr: 1e8 }, minCount: 1 };
  const file = await openData(train, { batchSize: 512 });
  await assert.rejects(trainParallel(buildModel(file.fields.length, settings), file, { start: 0, end: 20_000 }, 2), /training diverged/);
  for (const dense of ["sequential", "async"] as const) {
    const m = buildModel(file.fields.length, settings);
    const r = await trainParallel(m, file, { start: 0, end: 20_000 }, 2, undefined, { skipNonFinite: true }, { denseUpdates: dense });
    const skipped = r.position.skippedBatches;
    assert.ok(skipped > 0 && r.rows < 20_000 && r.rows >= 20_000 - skipped * 512, `${dense}: ${skipped} batches skipped, ${r.rows} rows trained`);
    for (const p of m.params) assert.ok(p.value.every(Number.isFinite), `${dense}: ${p.name} finite`);
    for (const id of m.tables[0].ids()) assert.ok(m.tables[0].get(id)!.every(Number.isFinite), `${dense}: row ${id} finite`);
  }
});

test("skipNonFinite cannot mend weights that are no longer finite: every trainer stops with a DivergenceError naming the weight", async () => {
  const settings: TrainSettings = { ...SETTINGS, model: "mlp", optimizer: "sgd", hyper: { lr: 0.01 }, minCount: 1 };
  const file = await openData(train, { batchSize: 512 });
  // The layers' weights, not the optimizer's state (the workers' copies of it refuse a non-finite value before any step).
  const planted = (): ReturnType<typeof buildModel> => {
    const m = buildModel(file.fields.length, settings);
    m.params[0].value[3] = Infinity;
    return m;
  };
  const names = /training diverged at step 1 \(rows on lines \d+\.\.\d+ of .*\): the weight deep\.0\.weight at 3 is Infinity, which skipping batches cannot mend/;
  await assert.rejects(trainModel(planted(), file, { start: 0, end: 20_000 }, undefined, { skipNonFinite: true }), names);
  for (const dense of ["sequential", "async"] as const) {
    await assert.rejects(trainParallel(planted(), file, { start: 0, end: 20_000 }, 2, undefined, { skipNonFinite: true }, { denseUpdates: dense }), names, dense);
  }
  // Weights that the last step leaves non-finite are found at the end, where no later loss shows them.
  const last = buildModel(file.fields.length, settings);
  await assert.rejects(trainModel(last, file, { start: 0, end: 512 }, () => { last.dense[1].view()[0] = NaN; last.params[1].value[0] = NaN; }, { skipNonFinite: true }), /training diverged at step 1 \(training on .*\): the weight deep\.0\.bias at 0 is NaN/);
});

test("asynchronous dense updates refuse group-lasso dense layers, whose step ignores the shared weights it is given", async () => {
  // Why: a group rule's next weights come from its own dual state. Set other weights, step, and the step lands
  // near where its own trajectory was (a plain rule moves from the weights it is given).
  const moveFrom = (optimizer: "adam" | "group-adam"): number => {
    const d = createOptimizer(optimizer, { lr: 0.1 }).dense(new Float32Array([1, 2, 3, 4]), { rows: 1, rowLength: 4 });
    d.step(new Float32Array([0.5, -0.5, 0.25, 1]));
    d.view().set([10, 10, 10, 10]);
    d.step(new Float32Array([0.3, 0.1, -0.2, 0.4]));
    const moved = Math.max(...Array.from(d.view(), (v) => Math.abs(v - 10)));
    d.dispose();
    return moved;
  };
  assert.ok(moveFrom("adam") < 0.2, "a plain rule steps from the weights it is given");
  assert.ok(moveFrom("group-adam") > 5, "a group rule goes back to its own trajectory");
  const file = await openData(train, { batchSize: 512 });
  const m = buildModel(file.fields.length, { ...SETTINGS, dense: "group" });
  await assert.rejects(trainParallel(m, file, { start: 0, end: 8000 }, 2, undefined, {}, { denseUpdates: "async" }),
    /training with 2 worker threads does not support asynchronous dense updates of group-lasso dense layers \(--dense group; use --dense-updates sequential\)/);
  // Sequential updates step each row's own state with every worker's gradient: they train.
  const r = await trainParallel(m, file, { start: 0, end: 8000 }, 2, undefined, {}, { denseUpdates: "sequential" });
  assert.equal(r.rows, 8000);
});

test("a feature budget: with eviction the tables stay within it, their counts exact; without, the run stops with a MemoryBudgetError", async () => {
  // Batches of 64: a round's new rows (at most 2 x 64 x 39) are a small part of the budget.
  const SETTINGS = { ...SETTINGS_512, batch: 64 };
  const file = await openData(train, { batchSize: 64 });
  const full = buildModel(file.fields.length, SETTINGS);
  await trainModel(full, file, { start: 0, end: 60_000 });
  const budget = Math.floor(0.7 * full.tables[0].size);
  for (const dense of ["sequential", "async"] as const) {
    const m = buildModel(file.fields.length, SETTINGS);
    const evictions: number[] = [];
    let most = 0;
    const r = await trainParallel(m, file, { start: 0, end: 60_000 }, 2, () => { most = Math.max(most, m.tables[0].size); }, {
      maxFeatures: budget, onFull: "evict", onEvict: (e) => evictions.push(e.evicted),
    }, { denseUpdates: dense });
    assert.equal(r.rows, 60_000);
    assert.ok(evictions.length > 0 && evictions.every((n) => n > 0), `${dense}: evicted ${evictions.join(", ")}`);
    assert.ok(m.tables[0].size <= budget && most <= budget, `${dense}: ${m.tables[0].size} rows (at most ${most}) within ${budget}`);
    let zeros = 0;
    for (const id of m.tables[0].ids()) zeros += m.tables[0].isZero(id) ? 1 : 0;
    assert.equal(m.tables[0].zeroRows, zeros, `${dense}: zero-row count`);
    const fails = buildModel(file.fields.length, SETTINGS);
    await assert.rejects(trainParallel(fails, file, { start: 0, end: 60_000 }, 2, undefined, { maxFeatures: budget }, { denseUpdates: dense }), (e: Error) => {
      assert.equal(e.name, "MemoryBudgetError");
      // It stops once a round passed the budget: by at most one round's new rows (a batch of each worker).
      assert.ok(fails.tables[0].size > budget && fails.tables[0].size <= budget + 2 * 64 * file.fields.length, `${dense}: stopped at ${fails.tables[0].size} rows`);
      return true;
    });
  }
});

test("AdaHessian: one worker gives the deterministic trainer's model bit for bit (the same probes); two workers train as well", async () => {
  const settings: TrainSettings = { ...SETTINGS, optimizer: "group-adahessian", hyper: { lr: 0.01, l21: 0.25 / 512 } };
  const file = await openData(train, { batchSize: 512 });
  const test = await openData(testFile, { batchSize: 4096 });
  const a = buildModel(file.fields.length, settings);
  await trainModel(a, file, { start: 0, end: 30_000 });
  for (const dense of ["sync", "sequential", "async"] as const) {
    const b = buildModel(file.fields.length, settings);
    await trainParallel(b, file, { start: 0, end: 30_000 }, 1, undefined, {}, { denseUpdates: dense });
    assert.equal(b.sha256(), a.sha256(), `${dense}: model hash`);
  }
  // Two workers against the deterministic trainer on 60k rows: at 30k AdaHessian's early steps still
  // swing the test AUC by about 0.03 from run to run. At 60k, 24 runs of two workers gave 0.7377-0.7428
  // against 0.7414, but about one run in twenty of the suite's swung to 0.721: the check is that two
  // workers train (within 0.03); the bit-for-bit check above is the one that pins the probes and steps.
  const ref = buildModel(file.fields.length, settings);
  await trainModel(ref, file, { start: 0, end: 60_000 });
  const want60 = await evaluateModel(ref, test);
  const m = buildModel(file.fields.length, settings);
  const r = await trainParallel(m, file, { start: 0, end: 60_000 }, 2);
  assert.equal(r.rows, 60_000);
  const got = await evaluateModel(m, test);
  assert.ok(Math.abs(got.auc - want60.auc) < 0.03, `2 workers: AUC ${got.auc} vs ${want60.auc}`);
  console.log(`# AdaHessian, 2 workers: AUC ${got.auc.toFixed(4)} (deterministic ${want60.auc.toFixed(4)})`);
});

test("threads started ahead (WorkerPool) train as threads started by the run and serve job after job: the deterministic model bit for bit from a fresh and from a reused thread, scorings between runs, a pool short of threads starts the rest; a failed run's threads end; a scoring the pool is short for uses threads of its own; close ends the idle ones", async () => {
  const file = await openData(train, { batchSize: 512 });
  const a = buildModel(file.fields.length, SETTINGS);
  await trainModel(a, file, { start: 0, end: 20_000 });
  const pool = new WorkerPool(3);
  try {
    assert.equal(pool.size, 3);
    const b = buildModel(file.fields.length, SETTINGS);
    await trainParallel(b, file, { start: 0, end: 20_000 }, 1, undefined, {}, { pool });
    assert.equal(b.sha256(), a.sha256(), "one pooled worker: the deterministic model");
    assert.equal(pool.size, 3, "the run gave its thread back");
    // Four workers from a pool of three: three taken, one started by the run; all four given back.
    const c = buildModel(file.fields.length, SETTINGS);
    const r = await trainParallel(c, file, { start: 0, end: 20_000 }, 4, undefined, {}, { pool });
    assert.equal(r.position.rows, 20_000);
    assert.equal(pool.size, 4);
    // Scoring jobs on the same threads: evaluateModel's figures, the threads given back.
    const ev = await openData(train, { batchSize: 4096 }), range = { start: 20_000, end: 30_000 };
    assert.deepEqual(await evaluateThreads(c, ev, range, 3, { pool, startRows: 0 }), { ...await evaluateModel(c, ev, range), threads: 3 });
    assert.equal(pool.size, 4);
    // A thread that trained a run of four and scored trains the deterministic model again.
    const d = buildModel(file.fields.length, SETTINGS);
    await trainParallel(d, file, { start: 0, end: 20_000 }, 1, undefined, {}, { pool });
    assert.equal(d.sha256(), a.sha256(), "one reused worker: the deterministic model");
    // A run that fails (here its evaluation) ends its threads.
    const e = buildModel(file.fields.length, SETTINGS);
    const failing = { evaluate: () => Promise.reject(new Error("planted evaluation failure")), evaluateEveryRows: 5_000 };
    await assert.rejects(trainParallel(e, file, { start: 0, end: 20_000 }, 2, undefined, failing, { pool }), /planted evaluation failure/);
    assert.equal(pool.size, 2, "the failed run's two threads ended");
    // A scoring on more threads than the pool has idle starts its own and ends them: the pool does not grow.
    assert.deepEqual(await evaluateThreads(c, ev, range, 3, { pool, startRows: 0 }), { ...await evaluateModel(c, ev, range), threads: 3 });
    assert.equal(pool.size, 2, "a scoring with threads of its own leaves the pool as it was");
  } finally {
    await pool.close();
  }
  assert.equal(pool.size, 0);
  const unused = new WorkerPool(2);
  await unused.close();
  assert.equal(unused.size, 0);
  assert.throws(() => unused.take({} as never), /closed/);
});

test("fused multiply-adds set on the calling thread reach the workers: one worker gives the deterministic fma model bit for bit, also from a pool started without them; not the model without them", async (t) => {
  const file = await openData(train, { batchSize: 512 });
  const plain = buildModel(file.fields.length, SETTINGS);
  await trainModel(plain, file, { start: 0, end: 20_000 });
  try {
    configureLayers({ threads: 1, fma: true });
  } catch (e) {
    t.skip(`no relaxed SIMD here: ${(e as Error).message}`);
    return;
  }
  const pool = new WorkerPool(1);
  try {
    const a = buildModel(file.fields.length, SETTINGS);
    await trainModel(a, file, { start: 0, end: 20_000 });
    assert.notEqual(a.sha256(), plain.sha256(), "fma rounds otherwise");
    const b = buildModel(file.fields.length, SETTINGS);
    await trainParallel(b, file, { start: 0, end: 20_000 }, 1);
    assert.equal(b.sha256(), a.sha256(), "one worker: the deterministic fma model");
    const c = buildModel(file.fields.length, SETTINGS);
    await trainParallel(c, file, { start: 0, end: 20_000 }, 1, undefined, {}, { pool });
    assert.equal(c.sha256(), a.sha256(), "a pooled worker compiled without fma compiles again");
  } finally {
    await pool.close();
    configureLayers({ fma: false });
  }
});
