import { test } from "node:test";
import assert from "node:assert/strict";
import { rng, randomArray, sameBits } from "../helpers/rng.js";
import { SMALL, randomInputs, checkModelGradients } from "../helpers/models.js";
import { sigmoidLogLoss, type ParamFactory } from "../../src/nn/index.js";
import { MODEL_NAMES, MODEL_PRESETS, createModel, type ModelConfig, type ModelName } from "../../src/models/index.js";

for (const name of MODEL_NAMES) {
  test(`${name}: finite-difference gradients w.r.t. every input and parameter`, () => {
    const m = createModel(name, { ...SMALL[name], seed: 3 });
    assert.equal(checkModelGradients(name), m.inputs.length + m.params().length);
  });
}

test("parameter counts of the presets, by hand", () => {
  const count = (n: ModelName) => createModel(n, MODEL_PRESETS[n]).params().reduce((s, p) => s + p.value.length, 0);
  // mlp, Avazu: 22 x 16 = 352 -> 64 -> 32 -> 16 -> 1
  assert.equal(count("mlp"), (352 * 64 + 64) + (64 * 32 + 32) + (32 * 16 + 16) + (16 + 1));
  // opnn, iPinYou: 16 x 10 = 160; product z 160x512 + 512, p 100x512; 512 -> 256 -> 128 -> 1
  assert.equal(count("opnn"), (160 * 512 + 512) + 100 * 512 + (512 * 256 + 256) + (256 * 128 + 128) + (128 + 1));
  // dcn, Criteo: n = 39 x 8 = 312; two cross layers (w, b); deep 312 -> 64 -> 64; out over 312 + 64
  assert.equal(count("dcn"), 2 * (312 + 312) + (312 * 64 + 64) + (64 * 64 + 64) + ((312 + 64) + 1));
  // lr: the feature weights live in the table; only the bias is dense
  assert.equal(count("lr"), 1);
  // deepfm: bias; DNN 390 -> 400 -> 400 -> 400 -> 1 without output bias
  assert.equal(count("deepfm"), 1 + (390 * 400 + 400) + 2 * (400 * 400 + 400) + 400);
  assert.equal(count("dcn"), 25817);
});

test("inputs, parameter names and shapes follow the conventions", () => {
  const dcn = createModel("dcn", { fields: 39 });
  assert.deepEqual(dcn.inputs, [{ fields: 39, rowLength: 8 }]);
  assert.deepEqual(dcn.params().map((p) => `${p.name} ${p.rows}x${p.rowLength}`), [
    "cross.0.w 312x1", "cross.0.b 1x312", "cross.1.w 312x1", "cross.1.b 1x312",
    "deep.0.weight 312x64", "deep.0.bias 1x64", "deep.1.weight 64x64", "deep.1.bias 1x64",
    "out.weight 376x1", "out.bias 1x1",
  ]);
  assert.deepEqual(createModel("deepfm", { fields: 5, embedding: 4 }).inputs, [{ fields: 5, rowLength: 1 }, { fields: 5, rowLength: 4 }]);
  assert.deepEqual(createModel("lr", { fields: 5 }).inputs, [{ fields: 5, rowLength: 1 }]);
  assert.deepEqual(createModel("opnn", { fields: 16 }).params().map((p) => p.name).slice(0, 4),
    ["product.z.weight", "product.z.bias", "product.p.weight", "deep.0.weight"]);
  for (const n of MODEL_NAMES) {
    const ps = createModel(n, SMALL[n]).params();
    assert.equal(new Set(ps.map((p) => p.name)).size, ps.length, `${n}: names unique`);
    for (const p of ps) assert.equal(p.value.length, p.rows * p.rowLength);
  }
});

test("same seed, same model bit for bit (training steps with dropout included); another seed differs", () => {
  const r = rng(7), batch = 8;
  for (const name of MODEL_NAMES) {
    const a = createModel(name, { ...MODEL_PRESETS[name], seed: 42 }), b = createModel(name, { ...MODEL_PRESETS[name], seed: 42 });
    const xs = randomInputs(a, batch, r, 0.05);
    for (let step = 0; step < 2; step++) {
      const ya = a.forward(xs, batch, true).slice(), yb = b.forward(xs, batch, true);
      assert.ok(sameBits(ya, yb), `${name} step ${step}: logits`);
      const dy = randomArray(r, batch);
      const ga = a.backward(dy, batch).map((g) => g.slice()), gb = b.backward(dy, batch);
      ga.forEach((g, i) => assert.ok(sameBits(g, gb[i]), `${name}: input grad ${i}`));
      a.params().forEach((p, i) => assert.ok(sameBits(p.grad, b.params()[i].grad), `${name}: ${p.name} grad`));
    }
    if (name !== "lr") {
      const c = createModel(name, { ...MODEL_PRESETS[name], seed: 43 });
      assert.ok(!sameBits(a.forward(xs, batch, false).slice(), c.forward(xs, batch, false)), `${name}: seed matters`);
    }
  }
});

test("the parameter factory receives every parameter once and its array is used", () => {
  const seen: string[] = [];
  const factory: ParamFactory = (name, rows, rowLength, init) => {
    seen.push(name);
    assert.equal(init.length, rows * rowLength);
    return Float32Array.from(init);
  };
  for (const n of MODEL_NAMES) {
    seen.length = 0;
    const m = createModel(n, SMALL[n], { params: factory });
    assert.deepEqual(seen, m.params().map((p) => p.name));
  }
});

test("configuration errors name the problem", () => {
  assert.throws(() => createModel("dcn", {} as ModelConfig), /fields .* is required/);
  assert.throws(() => createModel("mlp", { fields: 3, crossLayers: 2 }), /"crossLayers" does not apply/);
  assert.throws(() => createModel("lr", { fields: 3, embedding: 4 }), /"embedding" does not apply/);
  assert.throws(() => createModel("mlp", { fields: 3, hiden: [4] } as ModelConfig), /unknown setting "hiden"/);
  assert.throws(() => createModel("opnn", { fields: 3, dropout: 1 }), /dropout must be in \[0, 1\)/);
  assert.throws(() => createModel("mlp", { fields: 3, hidden: [4, 0] }), /hidden\[1\]/);
  assert.throws(() => createModel("dcn", { fields: 3, hidden: [] }), /at least one hidden layer/);
  assert.throws(() => createModel("mlp", { fields: 2.5 }), /fields must be a positive integer/);
  assert.throws(() => createModel("mlp", { fields: 3, seed: -1 }), /seed/);
  assert.throws(() => createModel("cnn" as ModelName, { fields: 3 }), /unknown model "cnn"/);
  const m = createModel("deepfm", SMALL.deepfm);
  assert.throws(() => m.forward([new Float32Array(3)], 1, false), /expected 2 input/);
  assert.throws(() => m.forward([new Float32Array(3), new Float32Array(8)], 1, false), /input 1: expected at least 9/);
  assert.ok(Object.isFrozen(MODEL_PRESETS.dcn.hidden));
});

/**
 * A linearly separable problem on one-hot features: each (field, value) has a
 * hidden score, the label says whether the scores sum above 0. Plain SGD on the
 * embedding tables and dense parameters should at least halve the log loss.
 */
test("plain SGD on a separable problem halves the log loss of every model", () => {
  const fields = 3, vocab = 6, n = 96, r = rng(9);
  const score = randomArray(r, fields * vocab);
  const ids = Int32Array.from({ length: n * fields }, () => Math.floor(r() * vocab));
  const labels = new Float32Array(n);
  for (let s = 0; s < n; s++) {
    let t = 0;
    for (let f = 0; f < fields; f++) t += score[f * vocab + ids[s * fields + f]];
    labels[s] = t > 0 ? 1 : 0;
  }
  const configs: Record<ModelName, ModelConfig> = {
    mlp: { fields, embedding: 4, hidden: [16, 8] },
    opnn: { fields, embedding: 4, hidden: [16, 8], dropout: 0.1 },
    dcn: { fields, embedding: 4, hidden: [16], crossLayers: 2 },
    lr: { fields },
    deepfm: { fields, embedding: 4, hidden: [16], dropout: 0.1 },
  };
  for (const name of MODEL_NAMES) {
    const m = createModel(name, { ...configs[name], seed: 1 });
    const tables = m.inputs.map((s) => randomArray(r, fields * vocab * s.rowLength, 0.1));
    const gather = () => m.inputs.map((s, t) => {
      const d = s.rowLength, out = new Float32Array(n * fields * d);
      for (let i = 0; i < n * fields; i++) {
        const row = (i % fields) * vocab + ids[i];
        out.set(tables[t].subarray(row * d, row * d + d), i * d);
      }
      return out;
    });
    const evalLoss = () => sigmoidLogLoss(m.forward(gather(), n, false), labels, n);
    const before = evalLoss(), dl = new Float32Array(n), lr = 0.5;
    for (let step = 0; step < 150; step++) {
      const xs = gather();
      sigmoidLogLoss(m.forward(xs, n, true), labels, n, dl);
      const gs = m.backward(dl, n);
      for (const p of m.params()) for (let i = 0; i < p.value.length; i++) p.value[i] -= lr * p.grad[i];
      m.inputs.forEach((s, t) => {
        const d = s.rowLength;
        for (let i = 0; i < n * fields; i++) {
          const row = (i % fields) * vocab + ids[i];
          for (let k = 0; k < d; k++) tables[t][row * d + k] -= lr * gs[t][i * d + k];
        }
      });
    }
    const after = evalLoss();
    assert.ok(after < before / 2, `${name}: log loss ${before.toFixed(4)} -> ${after.toFixed(4)}`);
  }
});
