// AdaHessian training: the Hutchinson estimate of the Hessian diagonal
// (src/train/hutchinson.ts) against the closed form of logistic regression,
// and end to end on the real Criteo sample.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { openData } from "../../src/index.js";
import { createModel } from "../../src/models/index.js";
import { sigmoid } from "../../src/nn/loss.js";
import { buildModel } from "../../src/train/model.js";
import { trainModel } from "../../src/train/trainer.js";
import { evaluateModel } from "../../src/train/evaluate.js";
import {
  HutchinsonEstimator, hessianVectorProduct, rademacherInputs, rademacherParams, stepSeed,
} from "../../src/train/hutchinson.js";
import { fmix32 } from "../../src/util/fmix32.js";
import { haveShared, SHARED } from "../helpers/shared.js";

const have = haveShared("criteo/train.txt");

/** A small logistic-regression batch: weights per position, bias, labels, keys (with duplicates). */
function lrCase(B: number, F: number, seed: number, sharedKeys = false) {
  const model = createModel("lr", { fields: F, seed: 0 });
  let s = seed;
  const rnd = (): number => (s = fmix32(s + 0x9e3779b9)) / 2 ** 32;
  const keys = new BigUint64Array(B * F);
  // Few distinct keys per field, so that rows repeat across samples; with
  // sharedKeys the fields draw from one key set, so a row can also repeat
  // inside a sample (where its positions have cross curvature).
  for (let r = 0; r < B; r++) for (let f = 0; f < F; f++) keys[r * F + f] = BigInt((sharedKeys ? 0 : f * 1000) + Math.floor(rnd() * 3));
  const rowW = new Map<bigint, number>();
  const x = new Float32Array(B * F);
  for (let i = 0; i < B * F; i++) {
    if (!rowW.has(keys[i])) rowW.set(keys[i], (rnd() - 0.5) * 3);
    x[i] = rowW.get(keys[i])!;
  }
  const labels = Array.from({ length: B }, () => (rnd() < 0.4 ? 1 : 0));
  model.params()[0].value[0] = 0.3;
  return { model, keys, x, labels };
}

/** p_s (1 − p_s) / B per sample of the lr batch. */
function curvature(x: Float32Array, bias: number, B: number, F: number): number[] {
  return Array.from({ length: B }, (_, r) => {
    let z = bias;
    for (let f = 0; f < F; f++) z += x[r * F + f];
    const p = sigmoid(z);
    return (p * (1 - p)) / B;
  });
}

test("Hv of logistic regression equals the closed form H v (central difference)", () => {
  const B = 16, F = 4;
  const { model, keys, x, labels } = lrCase(B, F, 11);
  const xBefore = x.slice(), bBefore = model.params()[0].value.slice();
  const v = { inputs: rademacherInputs(keys, [1], B * F, 5), params: rademacherParams(model.params(), 5) };
  const hv = hessianVectorProduct(model, [x], labels, B, v, { h: 1e-2 });
  // The inputs and the bias are restored bit for bit.
  assert.deepEqual(x, xBefore);
  assert.deepEqual(model.params()[0].value, bBefore);
  // H_(s,f),(s',f') = δ_ss' p_s(1−p_s)/B for the inputs; the bias couples to every input of its sample.
  const c = curvature(x, bBefore[0], B, F);
  const vb = v.params[0][0];
  let hvBias = 0, maxRel = 0;
  for (let r = 0; r < B; r++) {
    let sv = vb;
    for (let f = 0; f < F; f++) sv += v.inputs[0][r * F + f];
    const want = c[r] * sv;
    hvBias += want;
    for (let f = 0; f < F; f++) {
      const got = hv.inputs[0][r * F + f];
      assert.ok(Math.abs(got - want) <= 2e-3 * Math.abs(want) + 1e-6, `sample ${r} field ${f}: Hv ${got}, closed form ${want}`);
      if (want !== 0) maxRel = Math.max(maxRel, Math.abs(got - want) / Math.abs(want));
    }
  }
  assert.ok(Math.abs(hv.params[0][0] - hvBias) <= 2e-3 * Math.abs(hvBias) + 1e-6, `bias: Hv ${hv.params[0][0]}, closed form ${hvBias}`);
  assert.ok(maxRel < 2e-3, `max relative error ${maxRel}`);
});

test("D = v ⊙ Hv: tied signs for repeated keys, and its mean over draws is the per-row Hessian diagonal", () => {
  const B = 16, F = 3;
  const { model, keys, x, labels } = lrCase(B, F, 23, true);
  const c = curvature(x, model.params()[0].value[0], B, F);
  // The row Hessian diagonal: d²L/dw² = Σ over positions j, l of the row of H_jl
  // = Σ_samples p(1−p)/B · (times the row appears in the sample)².
  const rowDiag = new Map<bigint, number>();
  for (let r = 0; r < B; r++) {
    const count = new Map<bigint, number>();
    for (let f = 0; f < F; f++) count.set(keys[r * F + f], (count.get(keys[r * F + f]) ?? 0) + 1);
    for (const [k, m] of count) rowDiag.set(k, (rowDiag.get(k) ?? 0) + c[r] * m * m);
  }
  const biasDiag = c.reduce((a, b) => a + b, 0);
  const est = new HutchinsonEstimator(model);
  const draws = 3000;
  const rowSum = new Map<bigint, number>();
  let biasSum = 0;
  for (let t = 0; t < draws; t++) {
    const seed = stepSeed(9, t);
    const v = rademacherInputs(keys, [1], B * F, seed)[0];
    if (t < 10) for (let i = 0; i < B * F; i++) for (let j = 0; j < B * F; j++) if (keys[i] === keys[j]) assert.equal(v[i], v[j]);
    const D = est.estimate(keys, [x], labels, B, seed);
    // The table sums D over duplicate positions, as it sums gradients.
    for (let i = 0; i < B * F; i++) rowSum.set(keys[i], (rowSum.get(keys[i]) ?? 0) + D.inputs[0][i]);
    biasSum += D.params[0][0];
  }
  for (const [k, want] of rowDiag) {
    const got = rowSum.get(k)! / draws;
    // The estimator's std per draw is below the sum of |H| of the row (≤ B·0.25/B·F·3); 3000 draws.
    assert.ok(Math.abs(got - want) < 0.12 * want + 2e-3, `row ${k}: mean D ${got}, diag(H) ${want}`);
  }
  assert.ok(Math.abs(biasSum / draws - biasDiag) < 0.12 * biasDiag, `bias: mean D ${biasSum / draws}, diag(H) ${biasDiag}`);
});

test("every pass sees the same dropout masks: with v = 0 the difference is exactly 0", () => {
  const B = 8, F = 3, d = 4;
  const model = createModel("mlp", { fields: F, embedding: d, hidden: [16], dropout: 0.5, seed: 1 });
  let s = 4;
  const x = Float32Array.from({ length: B * F * d }, () => ((s = fmix32(s + 1)) / 2 ** 32) - 0.5);
  const labels = Array.from({ length: B }, (_, r) => r % 2);
  const zero = { inputs: [new Float32Array(B * F * d)], params: model.params().map((p) => new Float32Array(p.value.length)) };
  const same = hessianVectorProduct(model, [x], labels, B, zero, { dropoutSeed: 77 });
  assert.ok(same.inputs[0].every((g) => g === 0) && same.params.every((a) => a.every((g) => g === 0)));
  // Without reseeding, the second pass draws other masks and the "curvature" is noise.
  const other = hessianVectorProduct(model, [x], labels, B, zero, {});
  assert.ok(other.params.some((a) => a.some((g) => g !== 0)));
});

async function run(model: "dcn" | "mlp", optimizer: "adahessian" | "group-adahessian", seed: number) {
  const train = await openData(join(SHARED, "criteo/train.txt"), { batchSize: 512 });
  const testFile = await openData(join(SHARED, "criteo/test.txt"), { batchSize: 512 });
  const m = buildModel(train.fields.length, { model, optimizer, hyper: optimizer === "group-adahessian" ? { l21: 1e-4 } : {}, seed });
  const t0 = performance.now();
  const r = await trainModel(m, train);
  const ms = performance.now() - t0;
  const e = await evaluateModel(m, testFile);
  return { m, r, e, ms, sha: m.sha256() };
}

test("adahessian and group-adahessian train a dcn on the Criteo sample, bit for bit by seed", { skip: !have && "shared data not present" }, async () => {
  for (const opt of ["adahessian", "group-adahessian"] as const) {
    const a = await run("dcn", opt, 3), b = await run("dcn", opt, 3);
    console.log(`# ${opt} dcn: test AUC ${a.e.auc.toFixed(4)}, logloss ${a.e.logloss.toFixed(4)}, ${(a.ms / a.r.rows * 512).toFixed(1)} ms/step, feature rate ${a.m.featureRate.toFixed(3)}`);
    assert.equal(a.r.rows, 7200);
    assert.ok(a.e.auc > 0.62, `${opt} AUC ${a.e.auc}`);
    assert.equal(a.sha, b.sha, `${opt}: same seed, different models`);
    assert.equal(a.e.auc, b.e.auc);
  }
});
