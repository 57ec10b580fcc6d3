// tfjs-layers users (through the @tensorflow/tfjs union package, which also
// registers the gradients): a Sequential model compiled with GroupAdam and
// trained by fit() follows tf.train.adam without regularisers, and with l21
// zeroes kernel rows of noise inputs only, at Adam's accuracy; the optimizer's
// config round-trips through the serialization registry.
import { test } from "node:test";
import assert from "node:assert/strict";
// The union package: layers, and the gradients tfjs-core's Node build does not register.
import * as tf from "@tensorflow/tfjs";
import * as tfl from "@tensorflow/tfjs";
import { GroupAdam, zeroGroups } from "../../src/tfjs/index.js";

await tf.setBackend("cpu");
tf.enableProdMode();

const FEATURES = 10, RELEVANT = 3, ROWS = 2000;

function data(seed: number): { x: tf.Tensor2D; y: tf.Tensor2D } {
  // Seeded normal inputs; the click depends on the first RELEVANT columns only.
  const x = tf.randomNormal([ROWS, FEATURES], 0, 1, "float32", seed) as tf.Tensor2D;
  const w = tf.tensor2d([4, -3, 2, ...new Array(FEATURES - RELEVANT).fill(0)], [FEATURES, 1]);
  const y = tf.sigmoid(x.matMul(w)).greater(tf.randomUniform([ROWS, 1], 0, 1, "float32", seed + 100)).cast("float32") as tf.Tensor2D;
  return { x, y };
}

function model(optimizer: tf.Optimizer): tfl.Sequential {
  const m = tfl.sequential();
  m.add(tfl.layers.dense({ units: 8, inputShape: [FEATURES], activation: "relu", kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }), name: "hidden" }));
  m.add(tfl.layers.dense({ units: 1, activation: "sigmoid", kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }), name: "out" }));
  m.compile({ optimizer, loss: "binaryCrossentropy", metrics: ["accuracy"] });
  return m;
}

test("model.compile({ optimizer: GroupAdam }) + fit: without regularisers Adam's trajectory; with l21 only noise inputs' kernel rows become exactly zero", async () => {
  const train = data(1), test_ = data(2);
  // Zero regularisers: the same weights as tf.train.adam (epsilon mapped: tfjs's Adam adds 1e-7).
  const plain = model(new GroupAdam({ lr: 0.02, epsilon: 1e-7 }));
  const adam = model(tf.train.adam(0.02));
  for (const m of [plain, adam]) await m.fit(train.x, train.y, { epochs: 3, batchSize: 64, shuffle: false, verbose: 0 });
  const a = plain.getWeights().map((w) => w.dataSync()), b = adam.getWeights().map((w) => w.dataSync());
  let worst = 0;
  a.forEach((wa, i) => wa.forEach((v, j) => { worst = Math.max(worst, Math.abs(v - b[i][j]) / (Math.abs(b[i][j]) + 1e-3)); }));
  assert.ok(worst < 1e-4, `largest relative difference ${worst}`);

  const group = model(new GroupAdam({ lr: 0.02, l21: 1, regularize: /^hidden\/kernel/ }));
  await group.fit(train.x, train.y, { epochs: 8, batchSize: 64, shuffle: false, verbose: 0 });
  const zero = zeroGroups(group.getLayer("hidden").getWeights()[0]);
  assert.ok(zero.length >= 2 && zero.every((r) => r >= RELEVANT), `zero rows ${zero}: only noise inputs may go`);
  const acc = (m: tfl.Sequential): number => (m.evaluate(test_.x, test_.y) as tf.Scalar[])[1].dataSync()[0];
  const ga = acc(group), aa = acc(adam);
  console.log(`# compile/fit: GroupAdam(l21 0) vs tf.train.adam worst relative difference ${worst.toExponential(2)}; GroupAdam(l21 1) zero rows ${zero.join(",")}, accuracy ${ga.toFixed(4)} vs Adam ${aa.toFixed(4)}`);
  assert.ok(ga >= aa - 0.02, `GroupAdam ${ga} vs Adam ${aa}`);
  // The optimizer's config round-trips through the serialization registry, as a saved model's does.
  const cfg = group.optimizer.getConfig();
  const back = tf.serialization.SerializationMap.getMap().classNameMap[GroupAdam.className][1](GroupAdam, cfg) as GroupAdam;
  assert.deepEqual(back.getConfig(), cfg);
});
