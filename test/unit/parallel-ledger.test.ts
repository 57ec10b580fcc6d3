// The data-parallel run's totals in shared memory (src/train/parallel-ledger.ts):
// a run started from a checkpoint's position gives its workers their next
// rows and the run its totals; worker 0's round sums equal a brute-force
// sum of the workers' arrivals (rows, loss weighted by rows, the moving
// loss, steps only for rounds with rows); the asynchronous sums equal the
// workers' own totals over the base; and the position read back holds it all.
import { test } from "node:test";
import assert from "node:assert/strict";
import { RunLedger } from "../../src/train/parallel-ledger.js";
import { startPosition } from "../../src/train/trainer.js";
import { T_CKPT_ROWS, T_EVAL_ROWS, T_LOSS_SUM, T_RECENT, T_ROWS, T_STEPS } from "../../src/train/parallel-protocol.js";
import { rng } from "../helpers/rng.js";

test("rounds: the totals are the brute-force sums of the workers' arrivals, seen by another ledger over the same memory", () => {
  const N = 3, pos = { ...startPosition(), rows: 1000, steps: 4, lossSum: 600, lossRows: 1000, evaluatedRows: 900, parts: [10, 2000, 3100] };
  const coord = RunLedger.start(N, pos, [0, 1500, 3000]);
  const worker = new RunLedger(N, coord.buffers);
  assert.deepEqual([0, 1, 2].map((w) => worker.seen(w)), [10, 2000, 3100], "each worker's next row from the checkpoint");
  assert.deepEqual([T_ROWS, T_STEPS, T_LOSS_SUM, T_RECENT, T_EVAL_ROWS, T_CKPT_ROWS].map((k) => coord.totals[k]), [1000, 4, 600, 0.6, 900, 1000]);
  // A new run's moving loss is its first round's.
  const fresh = RunLedger.start(1, startPosition(), [0]);
  fresh.arrive(0, 10, 1, 0.3, 10);
  fresh.closeRound(() => {});
  assert.equal(fresh.totals[T_RECENT], 0.3);
  const r = rng(3);
  let rows = 1000, steps = 4, lossSum = 600, recent = 0.6, stepsCalled = 0;
  for (let round = 0; round < 50; round++) {
    let rr = 0, lr = 0, batches = 0;
    for (let w = 0; w < N; w++) {
      const had = r() < 0.9 ? 1 : 0, n = had && r() < 0.8 ? Math.floor(r() * 256) + 1 : 0, loss = r();
      worker.arrive(w, n, had, loss, 5000 + round);
      rr += n;
      lr += n * loss;
      batches += had;
    }
    const got = worker.closeRound(() => stepsCalled++);
    assert.equal(got, batches);
    if (rr > 0) {
      rows += rr;
      steps++;
      lossSum += lr;
      recent = 0.98 * recent + 0.02 * (lr / rr);
    }
    assert.equal(coord.totals[T_ROWS], rows);
    assert.equal(coord.totals[T_STEPS], steps);
    assert.ok(Math.abs(coord.totals[T_LOSS_SUM] - lossSum) < 1e-9 * lossSum);
    assert.ok(Math.abs(coord.totals[T_RECENT] - recent) < 1e-12, `round ${round}: recent ${coord.totals[T_RECENT]} against ${recent}`);
  }
  assert.equal(stepsCalled, steps - 4, "onStep once per round with rows");
  worker.skipped(1);
  worker.skipped(1);
  const p = startPosition();
  coord.position(p, 5);
  assert.deepEqual({ rows: p.rows, steps: p.steps, lossRows: p.lossRows, skipped: p.skippedBatches, parts: p.parts, seen: p.seen }, { rows, steps, lossRows: rows, skipped: 7, parts: [5049, 5049, 5049], seen: 0 });
  // due: rows since the last evaluation.
  assert.equal(coord.due(rows - 900, T_EVAL_ROWS), true);
  assert.equal(coord.due(rows - 899, T_EVAL_ROWS), false);
  assert.equal(coord.due(0, T_EVAL_ROWS), false, "0: never due");
  assert.equal(coord.due(undefined, T_EVAL_ROWS), false);
});

test("asynchronous updates: the run's totals are the base plus every worker's own, the moving loss their mean", () => {
  const N = 2, coord = RunLedger.start(N, startPosition(), [0, 100]);
  const w0 = new RunLedger(N, coord.buffers), w1 = new RunLedger(N, coord.buffers);
  w0.stepped(0, 10, 0.5, 1, 10);
  w0.stepped(0, 20, 0.25, 2, 30);
  w1.stepped(1, 30, 1, 1, 130);
  w1.passed(1, 160);
  coord.sumAsync({ rows: 100, steps: 3, lossSum: 40, skipped: 0 });
  assert.equal(coord.totals[T_ROWS], 160);
  assert.equal(coord.totals[T_STEPS], 6);
  assert.equal(coord.totals[T_LOSS_SUM], 40 + 5 + 5 + 30);
  assert.equal(coord.totals[T_RECENT], (0.98 * 0.5 + 0.02 * 0.25) / 2 + 1 / 2);
  assert.deepEqual([coord.seen(0), coord.seen(1)], [30, 160]);
});
