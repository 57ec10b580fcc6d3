// The fused hidden layer (linear + ReLU, bias and mask in the WebAssembly
// products) gives the same bits as a Linear followed by a Relu, on both
// backends, on ragged shapes, with zeros, -0, NaN and ties at zero.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Linear } from "../../src/nn/linear.js";
import { Relu } from "../../src/nn/relu.js";
import { LinearRelu } from "../../src/nn/linear-relu.js";
import { layersAvailable } from "../../src/kernels/layers/index.js";
import { rng, randomArray, sameBits } from "../helpers/rng.js";
import { withBackend } from "../helpers/backend.js";

function run(backend: "ts" | "wasm", fused: boolean, batch: number, k: number, n: number, seed: number): Float32Array[] {
  return withBackend(backend, () => {
    const r = rng(seed), o = { name: "h", inDim: k, outDim: n, seed: 4 };
    const x = randomArray(r, batch * k), dy = randomArray(r, batch * n), b = randomArray(r, n, 0.5);
    // Exact zeros, -0 and a NaN in the input; a bias that makes some pre-activations exactly 0.
    x[0] = 0; if (x.length > 3) x[3] = -0;
    if (batch * k > 10) x[7] = NaN;
    if (fused) {
      const l = new LinearRelu(o);
      l.bias.value.set(b);
      const y = l.forward(x, batch, true).slice(), dx = l.backward(dy, batch).slice();
      return [y, dx, l.weight.grad.slice(), l.bias.grad.slice()];
    }
    const lin = new Linear(o), relu = new Relu(n);
    lin.bias!.value.set(b);
    const y = relu.forward(lin.forward(x, batch, true), batch, true).slice();
    const dx = lin.backward(relu.backward(dy, batch), batch).slice();
    return [y, dx, lin.weight.grad.slice(), lin.bias!.grad.slice()];
  });
}

test("LinearRelu = Linear then Relu, bit for bit, on both backends and ragged shapes", { skip: !layersAvailable() }, () => {
  let s = 1;
  for (const [batch, k, n] of [[512, 312, 64], [512, 64, 64], [7, 5, 3], [1, 9, 1], [33, 17, 13], [64, 400, 512], [2, 1, 6]]) {
    const ref = run("ts", false, batch, k, n, s);
    for (const [backend, fused] of [["ts", true], ["wasm", true], ["wasm", false]] as const) {
      const got = run(backend, fused, batch, k, n, s);
      for (let i = 0; i < ref.length; i++) assert.ok(sameBits(got[i], ref[i]), `${batch}x${k}x${n} ${backend} fused=${fused}: output ${i}`);
    }
    s++;
  }
});

test("LinearRelu keeps Linear's parameter names and initial values", () => {
  const o = { name: "deep.0", inDim: 12, outDim: 5, seed: 9 };
  const a = new LinearRelu(o), b = new Linear(o);
  assert.deepEqual(a.params().map((p) => p.name), ["deep.0.weight", "deep.0.bias"]);
  assert.ok(sameBits(a.weight.value, b.weight.value));
});
