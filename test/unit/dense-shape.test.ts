// Dense rows longer than the kernels' MAX_ROW (DCN's cross vectors at large
// embeddings) are cut into pieces for plain rules, which are elementwise: the
// layout changes nothing; group rules refuse with a clear error.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createOptimizer } from "../../src/index.js";
import { buildModel, denseShape } from "../../src/train/model.js";
import { MAX_ROW } from "../../src/kernels/layout.js";
import { rng, randomArray, sameBits } from "../helpers/rng.js";

test("denseShape cuts long rows into equal pieces <= MAX_ROW; group mode refuses", () => {
  assert.deepEqual(denseShape("w", 3, 64, "plain"), { rows: 3, rowLength: 64 });
  assert.deepEqual(denseShape("cross.0.b", 1, 39 * 32, "plain"), { rows: 2, rowLength: 624 });
  assert.deepEqual(denseShape("p", 1, 1031, "plain"), { rows: 1031, rowLength: 1 }); // a prime
  assert.throws(() => denseShape("cross.0.b", 1, 1248, "group"), /cross\.0\.b: a row of 1248 floats is longer than the 1024/);
  assert.equal(MAX_ROW, 1024);
});

test("a plain rule is the same whatever the row layout (adam, momentum, adagrad)", () => {
  for (const name of ["adam", "momentum", "adagrad"] as const) {
    const r = rng(4), init = randomArray(r, 1248);
    const a = createOptimizer(name, { lr: 0.01 }).dense(init, { rows: 2, rowLength: 624 });
    const b = createOptimizer(name, { lr: 0.01 }).dense(init, { rows: 1248, rowLength: 1 });
    for (let s = 0; s < 20; s++) {
      const g = randomArray(r, 1248);
      a.step(g);
      b.step(g);
    }
    assert.ok(sameBits(a.weights(), b.weights()), name);
  }
});

test("dcn at embedding 32 (cross vectors of 1248 floats) builds and steps", () => {
  const m = buildModel(39, { model: "dcn", optimizer: "group-adam", modelConfig: { embedding: 32 }, seed: 1 });
  const cross = m.params.findIndex((p) => p.name === "cross.0.b");
  assert.equal(m.params[cross].value.length, 1248);
  assert.equal(m.dense[cross].rows * m.dense[cross].rowLength, 1248);
  assert.throws(() => buildModel(39, { model: "dcn", optimizer: "group-adam", modelConfig: { embedding: 32 }, dense: "group" }), /longer than the 1024/);
});
