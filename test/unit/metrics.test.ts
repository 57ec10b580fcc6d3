// Metrics: exact AUC against an O(n^2) pair count and the midrank formula,
// log loss against hand-computed values, and the errors both raise.
import { test } from "node:test";
import assert from "node:assert/strict";
import { auc, AucAccumulator, logloss, LoglossAccumulator, CompensatedSum, LOGLOSS_EPS } from "../../src/metrics/index.js";
import { rng } from "../helpers/rng.js";

/** P(positive > negative) + 0.5 P(tie), counting every pair. */
function bruteAuc(s: ArrayLike<number>, y: ArrayLike<number>): number {
  let num = 0, pairs = 0;
  for (let i = 0; i < s.length; i++) {
    if (y[i] !== 1) continue;
    for (let j = 0; j < s.length; j++) {
      if (y[j] !== 0) continue;
      pairs++;
      num += s[i] > s[j] ? 1 : s[i] === s[j] ? 0.5 : 0;
    }
  }
  return num / pairs;
}

/** The rank-sum form: (sum of the positives' midranks - P(P+1)/2) / (P N). */
function midrankAuc(s: ArrayLike<number>, y: ArrayLike<number>): number {
  const idx = Array.from({ length: s.length }, (_, i) => i).sort((a, b) => s[a] - s[b]);
  const rank = new Float64Array(s.length);
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j < idx.length && s[idx[j]] === s[idx[i]]) j++;
    for (let k = i; k < j; k++) rank[idx[k]] = (i + 1 + j) / 2;
    i = j;
  }
  let rp = 0, p = 0;
  for (let i = 0; i < s.length; i++) if (y[i] === 1) { rp += rank[i]; p++; }
  const n = s.length - p;
  return (rp - (p * (p + 1)) / 2) / (p * n);
}

test("AUC equals the brute-force pair count and the midrank formula on random data with many ties", () => {
  const r = rng(3);
  for (const [n, levels, rate] of [[1500, 7, 0.3], [1200, 1000, 0.05], [900, 2, 0.5], [700, 1e9, 0.5]] as const) {
    const s = new Float64Array(n), y = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      y[i] = r() < rate ? 1 : 0;
      // Scores correlated with the label, rounded to `levels` values: ties everywhere.
      s[i] = Math.round((r() + 0.3 * y[i]) * levels) / levels;
    }
    const want = bruteAuc(s, y);
    assert.ok(Math.abs(auc(s, y) - want) < 1e-12, `n=${n} levels=${levels}`);
    assert.ok(Math.abs(midrankAuc(s, y) - want) < 1e-12);
    assert.ok(want > 0.5 && want < 1);
  }
});

test("AUC hand cases: perfect, reversed, all tied, a half-credit tie", () => {
  assert.equal(auc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]), 1);
  assert.equal(auc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]), 0);
  assert.equal(auc([0.3, 0.3, 0.3, 0.3, 0.3], [0, 1, 0, 1, 1]), 0.5);
  // Positives {0.5, 0.8}, negatives {0.5, 0.2}: 0.5 + 1 + 1 + 1 of 4 pairs.
  assert.equal(auc([0.5, 0.5, 0.2, 0.8], [1, 0, 0, 1]), 0.875);
  assert.equal(auc([-Infinity, Infinity], [0, 1]), 1);
  assert.equal(auc([-0, 0], [0, 1]), 0.5, "-0 and +0 tie");
});

test("AUC takes Float32Array scores and any label array; the accumulator equals the one-shot form in any order", () => {
  const r = rng(8), n = 5000;
  const s = new Float32Array(n), y = new Float32Array(n);
  for (let i = 0; i < n; i++) { y[i] = r() < 0.2 ? 1 : 0; s[i] = Math.fround(r() * 0.5 + 0.2 * y[i]); }
  const whole = auc(s, y);
  assert.equal(whole, auc(Float64Array.from(s), Array.from(y)));
  const acc = new AucAccumulator();
  for (let i = n - 1000; i >= 0; i -= 1000) acc.addBatch(s.subarray(i, i + 1000), y.subarray(i, i + 1000));
  assert.equal(acc.count, n);
  assert.equal(acc.value(), whole);
  acc.add(10, 1); // value() may be read, then rows added, then read again
  assert.ok(acc.value() > whole);
});

test("AUC errors: lengths, labels, NaN, one class", () => {
  assert.throws(() => auc([0.1, 0.2], [1]), /2 scores but 1 labels/);
  assert.throws(() => auc([0.1, 0.2], [1, 2]), /label 2 at row 1 is not 0 or 1/);
  assert.throws(() => auc([0.1, 0.2], [1, 0.5]), /not 0 or 1/);
  assert.throws(() => auc([0.1, NaN], [1, 0]), /NaN/);
  assert.throws(() => auc([0.1, 0.2], [1, 1]), /undefined with 2 positives and 0 negatives/);
  assert.throws(() => auc([], []), /undefined/);
});

test("log loss: hand values, clipping at eps, compensated sums", () => {
  assert.ok(Math.abs(logloss([0.9, 0.2], [1, 0]) - -(Math.log(0.9) + Math.log(0.8)) / 2) < 1e-15);
  assert.ok(Math.abs(logloss(new Float32Array([0.5]), new Uint8Array([1])) - Math.LN2) < 1e-15);
  // p = 0 for a click costs -ln(1e-15), not infinity; p = 1 for a click costs about 1e-15.
  assert.ok(Math.abs(logloss([0], [1]) - 15 * Math.LN10) < 1e-9);
  assert.ok(logloss([1], [1]) < 2e-15);
  assert.equal(LOGLOSS_EPS, 1e-15);
  assert.ok(Math.abs(logloss([0], [1], 1e-3) - -Math.log(1e-3)) < 1e-12);
  assert.equal(logloss([0], [1], 0), Infinity);
  const acc = new LoglossAccumulator();
  acc.addBatch([0.9, 0.2], [1, 0]);
  acc.add(0.5, 1);
  assert.ok(Math.abs(acc.value() - -(Math.log(0.9) + Math.log(0.8) + Math.log(0.5)) / 3) < 1e-15);
  assert.equal(acc.count, 3);
  const cs = new CompensatedSum();
  for (const x of [1e16, 1, -1e16]) cs.add(x);
  assert.equal(cs.value, 1);
});

test("log loss errors: lengths, labels, probabilities outside [0, 1], no rows, bad eps", () => {
  assert.throws(() => logloss([0.5, 0.5], [1]), /2 probabilities but 1 labels/);
  assert.throws(() => logloss([0.5], [3]), /label 3 at row 0/);
  assert.throws(() => logloss([1.5], [1]), /not in \[0, 1\]/);
  assert.throws(() => logloss([NaN], [1]), /not in \[0, 1\]/);
  assert.throws(() => logloss([], []), /no rows/);
  assert.throws(() => logloss([0.5], [1], 0.5), /eps/);
});
