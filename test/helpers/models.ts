// Shared by the model tests: small configurations, random inputs and the
// finite-difference check of a whole model.
import assert from "node:assert/strict";
import { randomArray, rng } from "./rng.js";
import { gradCheck, type GradCheckResult } from "../../src/nn/index.js";
import { createModel, type Model, type ModelConfig, type ModelName } from "../../src/models/index.js";

/** Small configurations for gradient checks; dropout on where the model has it (masks fixed by reseed). */
export const SMALL: Record<ModelName, ModelConfig> = {
  mlp: { fields: 3, embedding: 4, hidden: [6, 5] },
  opnn: { fields: 3, embedding: 3, hidden: [6, 5, 4], dropout: 0.5 },
  dcn: { fields: 3, embedding: 3, hidden: [5, 4], crossLayers: 2 },
  lr: { fields: 4 },
  deepfm: { fields: 3, embedding: 3, hidden: [5, 4], dropout: 0.3 },
};

export function randomInputs(m: Model, batch: number, r: () => number, scale = 0.5): Float32Array[] {
  return m.inputs.map((s) => randomArray(r, batch * s.fields * s.rowLength, scale));
}

export function assertPasses(results: GradCheckResult[], maxSkipFraction = 0.05): void {
  for (const res of results) {
    assert.ok(res.checked > 0, `${res.name}: nothing checked`);
    assert.deepEqual(res.failures, [], `${res.name}: gradient mismatch`);
    assert.ok(res.skipped <= maxSkipFraction * res.checked, `${res.name}: ${res.skipped} of ${res.checked} on kinks`);
  }
}

/**
 * Finite-difference check of every input and parameter gradient of a SMALL
 * model (random weights, seed 3, batch 4), in eval and in training mode with
 * the dropout masks replayed by reseed. Returns the number of checked variables.
 */
export function checkModelGradients(name: ModelName): number {
  const r = rng(100 + name.length);
  const m = createModel(name, { ...SMALL[name], seed: 3 });
  // Random biases too, so that no gradient is checked only at a trivial point.
  for (const p of m.params()) p.value.set(randomArray(r, p.value.length, 0.5));
  const batch = 4, xs = randomInputs(m, batch, r);
  let checked = 0;
  for (const training of [false, true]) {
    let dxs: Float32Array[] = [];
    const results = gradCheck(
      {
        forward: () => { m.reseed(11); return m.forward(xs, batch, training); },
        backward: (dy) => { dxs = m.backward(dy, batch); },
      },
      [
        ...xs.map((x, i) => ({ name: `input ${i}`, value: x, grad: () => dxs[i] })),
        ...m.params().map((p) => ({ name: p.name, value: p.value, grad: () => p.grad })),
      ],
    );
    assertPasses(results);
    checked = results.length;
  }
  return checked;
}
