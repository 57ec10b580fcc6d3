// The progress line of `sparsectr train` on a terminal: the pass and its
// percent, rows/s, the time left, loss and live features, cut to the width.
import { test } from "node:test";
import assert from "node:assert/strict";
import { duration, progressLine } from "../../src/cli/train-monitor.js";

const p = { rows: 150_000, steps: 293, epoch: 1, loss: 0.45678, seconds: 10, liveFeatures: 1234, features: 5678 };

test("progress line: pass e/E with the percent of the pass, rate, time left in the pass and at most, loss, live features", () => {
  // 100k rows a pass: 50k of pass 2 done at 15k rows/s; 50k left in the pass (3 s), 150k in 3 passes (10 s).
  const line = progressLine(p, 15_000, 100_000, 3, 200).trimEnd();
  assert.equal(line, "pass 2/3  50.0%  15000 rows/s  3s left in the pass, at most 10s  loss 0.4568  live features 1234/5678");
  assert.equal(progressLine({ ...p, epoch: 0, rows: 25_000 }, 5000, 100_000, 1, 200).trimEnd(),
    "pass 1/1  25.0%  5000 rows/s  15s left  loss 0.4568  live features 1234/5678");
  assert.ok(progressLine(p, 15_000, 100_000, 3, 40).length < 40, "cut to the terminal's width");
  assert.match(progressLine({ ...p, loss: NaN }, 0, 100_000, 3, 200), /pass 2\/3 +50\.0% +0 rows\/s +- left in the pass, at most - +loss -/);
});

test("durations: seconds, minutes and hours; unknown as -", () => {
  assert.deepEqual([duration(12.4), duration(185), duration(3725), duration(NaN), duration(-1)], ["12s", "3m05s", "1h02m", "-", "-"]);
});
