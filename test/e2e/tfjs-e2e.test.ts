// End to end: a 2-layer network written with tfjs-core ops, trained by
// GroupAdam through minimize on a seeded synthetic click log whose last input
// columns are pure noise. Their rows of the first kernel must end exactly zero
// (the features are removed) while the relevant rows live, at the accuracy of
// plain Adam. Then the example of docs/tfjs.md runs as written.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { GroupAdam, zeroGroups } from "../../src/tfjs/index.js";
import { rng } from "../helpers/rng.js";

await tf.setBackend("cpu");
tf.enableProdMode(); // silences the "install tfjs-node" notice; changes no numerics

const FEATURES = 12, RELEVANT = 4, HIDDEN = 8;

/**
 * A stream of click-log batches: N(0,1)-like inputs whose click probability
 * depends on the first RELEVANT columns only; the other columns are noise.
 */
function stream(seed: number): (n: number) => { x: tf.Tensor2D; y: tf.Tensor2D } {
  const r = rng(seed);
  const normal = (): number => (r() + r() + r() + r() - 2) * Math.sqrt(3);
  return (n) => {
    const x = new Float32Array(n * FEATURES), y = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < FEATURES; j++) x[i * FEATURES + j] = normal();
      const [a, b, c, d] = x.subarray(i * FEATURES, i * FEATURES + RELEVANT);
      const logit = 1.5 * a - 1.5 * b + c - d + 0.8 * a * b - 0.3;
      y[i] = r() < 1 / (1 + Math.exp(-logit)) ? 1 : 0;
    }
    return { x: tf.tensor2d(x, [n, FEATURES]), y: tf.tensor2d(y, [n, 1]) };
  };
}

/**
 * p = sigmoid(relu(x W1 + b1) W2 + b2) and its mean log loss. tfjs-core's Node
 * build registers no kernel gradients (@tensorflow/tfjs and tfjs-node do), so
 * the loss carries its own backward pass through tf.customGrad; minimize and
 * variableGrads use it as they would the registered ones.
 */
function network(seed: number) {
  const r = rng(seed);
  const init = (n: number, s: number): Float32Array => Float32Array.from({ length: n }, () => (r() * 2 - 1) * s);
  const id = `net${seed}-${Math.floor(r() * 1e9)}`;
  const w1 = tf.variable(tf.tensor2d(init(FEATURES * HIDDEN, 0.1), [FEATURES, HIDDEN]), true, `${id}/w1`);
  const b1 = tf.variable(tf.zeros([HIDDEN]), true, `${id}/b1`);
  const w2 = tf.variable(tf.tensor2d(init(HIDDEN, 0.5), [HIDDEN, 1]), true, `${id}/w2`);
  const b2 = tf.variable(tf.zeros([1]), true, `${id}/b2`);
  const forward = (x: tf.Tensor2D, W1: tf.Tensor, B1: tf.Tensor, W2: tf.Tensor, B2: tf.Tensor): { h: tf.Tensor2D; logit: tf.Tensor2D } => {
    const h = tf.relu(tf.add(tf.matMul(x, W1 as tf.Tensor2D), B1)) as tf.Tensor2D;
    return { h, logit: tf.add(tf.matMul(h, W2 as tf.Tensor2D), B2) as tf.Tensor2D };
  };
  // The mean log loss in its stable form: softplus(logit) - y logit.
  const logLoss = (logit: tf.Tensor, y: tf.Tensor): tf.Scalar => tf.mean(tf.sub(tf.softplus(logit), tf.mul(y, logit)));
  const vars = [w1, b1, w2, b2];
  return {
    w1,
    vars,
    /** The loss of one batch, differentiable with respect to the four variables. */
    loss(x: tf.Tensor2D, y: tf.Tensor2D): tf.Scalar {
      const op = tf.customGrad((...args) => {
        const [W1, B1, W2, B2, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
        const { h, logit } = forward(x, W1, B1, W2, B2);
        save([h, logit, W2]);
        return {
          value: logLoss(logit, y),
          gradFunc: (dy, [hs, lg, W2s]) => {
            const dlogit = tf.mul(tf.sub(tf.sigmoid(lg), y), tf.div(dy, x.shape[0])) as tf.Tensor2D;
            const dh = tf.mul(tf.matMul(dlogit, W2s as tf.Tensor2D, false, true), tf.step(hs)) as tf.Tensor2D;
            return [tf.matMul(x, dh, true, false), tf.sum(dh, 0), tf.matMul(hs, dlogit, true, false), tf.sum(dlogit, 0)];
          },
        };
      });
      return op(w1, b1, w2, b2) as tf.Scalar;
    },
    /** Log loss and accuracy on held-out data. */
    evaluate(x: tf.Tensor2D, y: tf.Tensor2D): { logloss: number; accuracy: number } {
      return tf.tidy(() => {
        const { logit } = forward(x, w1, b1, w2, b2);
        const acc = tf.mean(tf.cast(tf.equal(tf.cast(tf.greater(logit, 0), "float32"), y), "float32"));
        return { logloss: logLoss(logit, y).dataSync()[0], accuracy: acc.dataSync()[0] };
      });
    },
    dispose: (): void => tf.dispose(vars),
  };
}

test("GroupAdam via minimize removes exactly the irrelevant input features of a 2-layer network, at plain Adam's accuracy", (t) => {
  const heldOut = stream(2)(4000);
  const irrelevant = Array.from({ length: FEATURES - RELEVANT }, (_, i) => RELEVANT + i);
  const results: Record<string, { logloss: number; accuracy: number; zero: number[] }> = {};
  for (const which of ["adam", "group-adam"] as const) {
    const net = network(7);
    // Only the first kernel is regularised: its rows are the input features.
    const opt = which === "adam"
      ? new GroupAdam({ lr: 0.01, regularize: [] })
      : new GroupAdam({ lr: 0.01, l21: 2, l2: 1e-4, regularize: [net.w1.name] });
    // One pass over a stream of batches, as the paper trains (the regularisers
    // act on the accumulated gradients of fresh data).
    const next = stream(1);
    for (let step = 1; step <= 800; step++) {
      const { x, y } = next(128);
      opt.minimize(() => net.loss(x, y), false, net.vars);
      tf.dispose([x, y]);
      if (which === "group-adam" && step >= 200 && step % 100 === 0) {
        assert.deepEqual(zeroGroups(net.w1), irrelevant, `step ${step}: the noise columns, and only they, are removed`);
      }
    }
    results[which] = { ...net.evaluate(heldOut.x, heldOut.y), zero: zeroGroups(net.w1) };
    t.diagnostic(`${which}: held-out log loss ${results[which].logloss.toFixed(4)}, accuracy ${results[which].accuracy.toFixed(4)}, zero input rows [${results[which].zero}]`);
    opt.dispose();
    net.dispose();
  }
  assert.deepEqual(results["group-adam"].zero, irrelevant, "exactly the noise columns are removed");
  assert.deepEqual(results.adam.zero, [], "plain Adam removes nothing");
  assert.ok(results["group-adam"].accuracy >= results.adam.accuracy - 0.01, "accuracy kept");
  assert.ok(results["group-adam"].logloss <= results.adam.logloss + 0.01, "log loss kept");
  assert.ok(results.adam.accuracy > 0.75, "the task is learnt at all");
  tf.dispose([heldOut.x, heldOut.y]);
});

test("the TensorFlow.js example of docs/tfjs.md runs and prints the claimed result", () => {
  const root = fileURLToPath(new URL("../../../", import.meta.url));
  const doc = readFileSync(root + "docs/tfjs.md", "utf8");
  const block = /## Example\s[\s\S]*?```js\n([\s\S]*?)```\s*prints\s*```\n([\s\S]*?)```/.exec(doc);
  assert.ok(block, "docs/tfjs.md has a js block under Example, followed by what it prints");
  // Inside the package folder, "sparsectr/tfjs" resolves to this package's own entry point.
  const file = root + "dist/readme-tfjs.mjs";
  writeFileSync(file, block[1]);
  try {
    // stderr (tfjs's notice about tfjs-node) is captured, not shown.
    const out = execFileSync(process.execPath, [file], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    assert.equal(out, block[2]);
  } finally {
    rmSync(file, { force: true });
  }
});
