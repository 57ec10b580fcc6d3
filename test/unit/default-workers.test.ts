// The workers a run takes when --threads is not given (train/parallel-plan.ts
// defaultWorkers): at most one per MIN_ROUNDS batches of the training rows,
// never more than the threads, at least one.
import { test } from "node:test";
import assert from "node:assert/strict";
import { defaultWorkers, MIN_ROUNDS } from "../../src/train/parallel-plan.js";

test("defaultWorkers: one worker per MIN_ROUNDS batches, within [1, threads]", () => {
  assert.equal(MIN_ROUNDS, 1000);
  assert.equal(defaultWorkers(16, 1_000_000, 512), 1, "1M rows: 1,953 batches");
  assert.equal(defaultWorkers(16, 1_024_000, 512), 2, "2,000 batches: 2 workers of 1,000 rounds");
  assert.equal(defaultWorkers(16, 1_023_999, 512), 1);
  assert.equal(defaultWorkers(16, 45_000_000, 512), 16, "Criteo's 45M rows: every core");
  assert.equal(defaultWorkers(16, 4_096_000, 512), 8);
  assert.equal(defaultWorkers(4, 100, 512), 1, "at least one");
  // Split dense updates: rounds of one batch whatever the workers, so no cap.
  assert.equal(defaultWorkers(16, 1_000_000, 512, "split"), 16);
  assert.equal(defaultWorkers(16, 1_000_000, 512, "sequential"), 1);
  for (let rows = 0; rows <= 20_000_000; rows += 123_457) {
    for (const threads of [1, 2, 3, 8, 16, 64]) {
      const w = defaultWorkers(threads, rows, 256);
      assert.ok(w >= 1 && w <= threads);
      if (w > 1) assert.ok(rows / (w * 256) >= MIN_ROUNDS, `${rows} rows, ${threads} threads: ${w} workers make ${rows / (w * 256)} rounds`);
      if (w < threads) assert.ok(rows / ((w + 1) * 256) < MIN_ROUNDS, `${rows} rows: one more worker would still make ${MIN_ROUNDS} rounds`);
    }
  }
});
