// The workers a run takes when --threads is not given (train/parallel-plan.ts
// defaultWorkers) and the dense updates an auto run takes
// (resolveDenseUpdates): with sync, sequential or async updates at most one
// worker per MIN_ROUNDS batches of the training rows, never more than the
// threads, at least one; with split or auto every thread, auto taking
// sequential updates where every worker makes MIN_ROUNDS rounds, else split.
import { test } from "node:test";
import assert from "node:assert/strict";
import { defaultWorkers, MIN_ROUNDS, resolveDenseUpdates } from "../../src/train/parallel-plan.js";
import { DEFAULT_DENSE_UPDATES } from "../../src/train/parallel-protocol.js";

test("defaultWorkers: one worker per MIN_ROUNDS batches with sync, sequential and async updates, within [1, threads]; every thread with split and auto", () => {
  assert.equal(MIN_ROUNDS, 1000);
  assert.equal(DEFAULT_DENSE_UPDATES, "auto");
  for (const mode of ["sequential", "sync", "async"] as const) {
    assert.equal(defaultWorkers(16, 1_000_000, 512, mode), 1, "1M rows: 1,953 batches");
    assert.equal(defaultWorkers(16, 1_024_000, 512, mode), 2, "2,000 batches: 2 workers of 1,000 rounds");
    assert.equal(defaultWorkers(16, 1_023_999, 512, mode), 1);
    assert.equal(defaultWorkers(16, 45_000_000, 512, mode), 16, "Criteo's 45M rows: every core");
    assert.equal(defaultWorkers(16, 4_096_000, 512, mode), 8);
    assert.equal(defaultWorkers(4, 100, 512, mode), 1, "at least one");
  }
  // Split rounds are one batch whatever the workers; auto takes split where the rounds would be fewer.
  assert.equal(defaultWorkers(16, 1_000_000, 512, "split"), 16);
  assert.equal(defaultWorkers(16, 1_000_000, 512), 16);
  assert.equal(defaultWorkers(16, 100, 512, "auto"), 16);
  for (let rows = 0; rows <= 20_000_000; rows += 123_457) {
    for (const threads of [1, 2, 3, 8, 16, 64]) {
      const w = defaultWorkers(threads, rows, 256, "sequential");
      assert.ok(w >= 1 && w <= threads);
      if (w > 1) assert.ok(rows / (w * 256) >= MIN_ROUNDS, `${rows} rows, ${threads} threads: ${w} workers make ${rows / (w * 256)} rounds`);
      if (w < threads) assert.ok(rows / ((w + 1) * 256) < MIN_ROUNDS, `${rows} rows: one more worker would still make ${MIN_ROUNDS} rounds`);
    }
  }
});

test("resolveDenseUpdates: a mode asked for is kept; auto is sequential where each worker makes MIN_ROUNDS rounds (and with one worker), else split", () => {
  for (const mode of ["sync", "sequential", "async", "split"] as const) assert.equal(resolveDenseUpdates(mode, 1_000_000, 16, 512), mode);
  assert.equal(resolveDenseUpdates("auto", 1_000_000, 16, 512), "split", "122 rounds a worker");
  assert.equal(resolveDenseUpdates("auto", 1_000_000, 1, 512), "sequential", "one worker");
  assert.equal(resolveDenseUpdates("auto", 45_000_000, 16, 512), "sequential", "5,493 rounds a worker");
  // The boundary: 16 workers x 1,000 rounds x 512 rows.
  assert.equal(resolveDenseUpdates("auto", 8_192_000, 16, 512), "sequential");
  assert.equal(resolveDenseUpdates("auto", 8_191_999, 16, 512), "split");
  assert.equal(resolveDenseUpdates("auto", 1_024_000, 2, 512), "sequential");
  assert.equal(resolveDenseUpdates("auto", 1_000_000, 2, 512), "split", "977 rounds a worker");
});
