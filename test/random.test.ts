// The dropout fast paths (TypeScript loop and WebAssembly) draw exactly the stream of nextU32.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Random } from "../src/nn/random.js";
import { Dropout } from "../src/nn/dropout.js";
import { randomArray, rng, sameBits } from "./helpers/rng.js";
import { withBackend } from "./helpers/backend.js";

for (const backend of ["ts", "wasm", "auto"] as const) test(`Random.dropout (${backend}) = nextU32 per element, then the stream continues identically`, () => {
  for (const [threshold, keep, n] of [[2 ** 31, 2, 1001], [0, 1, 7], [2 ** 32 - 1, 4, 4099], [1234567890, 1.25, 20_001], [2 ** 32, 2, 5000], [3e9, 1.5, 1]]) {
    const a = new Random(77), b = new Random(77);
    const x = randomArray(rng(5), n);
    const y = new Float32Array(n), mask = new Float32Array(n), yRef = new Float32Array(n), mRef = new Float32Array(n);
    // Twice: the second call continues the stream from where the first left it.
    withBackend(backend, () => a.dropout(x, y, mask, n, threshold, keep));
    for (let i = 0; i < n; i++) b.nextU32();
    withBackend(backend, () => a.dropout(x, y, mask, n, threshold, keep));
    for (let i = 0; i < n; i++) {
      mRef[i] = b.nextU32() >= threshold ? keep : 0;
      yRef[i] = x[i] * mRef[i];
    }
    assert.ok(sameBits(mask, mRef) && sameBits(y, yRef), `threshold ${threshold} n ${n}`);
    for (let i = 0; i < 10; i++) assert.equal(a.nextU32(), b.nextU32());
  }
});

test("Dropout layer: the same outputs and input gradients on every backend, the WebAssembly one keeping the mask as bits", () => {
  const run = (backend: "ts" | "wasm" | "auto"): Float32Array[] => withBackend(backend, () => {
    const d = new Dropout(1000, 0.3, 9, "drop"), r = rng(3), out: Float32Array[] = [];
    for (const batch of [7, 5]) {
      const x = randomArray(r, batch * 1000), dy = randomArray(r, batch * 1000);
      out.push(d.forward(x, batch, true).slice());
      out.push(d.backward(dy, batch).slice());
      // A second backward of the same forward (as a Hessian estimate may ask) gives the same gradient.
      out.push(d.backward(dy, batch).slice());
    }
    return out;
  });
  const ts = run("ts"), wasm = run("wasm"), auto = run("auto");
  for (let i = 0; i < ts.length; i++) {
    assert.ok(sameBits(wasm[i], ts[i]), `output ${i}: wasm != ts`);
    assert.ok(sameBits(auto[i], ts[i]), `output ${i}: auto != ts`);
  }
});

test("Random.dropoutBits: the mask as bits (ragged lengths) and the stream of nextU32; denseDropoutBackward gives dy times the float mask", async () => {
  const { denseDropoutBackward } = await import("../src/kernels/dense.js");
  for (const [threshold, keep, n] of [[2 ** 31, 2, 1001], [0, 1, 7], [2 ** 32 - 1, 4, 4099], [1234567890, 1.25, 20_001], [3e9, 1.5, 1], [2 ** 30, Math.fround(4 / 3), 64]]) {
    const a = new Random(31), b = new Random(31), r = rng(8);
    const x = randomArray(r, n), dy = randomArray(r, n), y = new Float32Array(n), dx = new Float32Array(n);
    // Stale bits beyond n must not matter: the words start full of ones.
    const bits = new Uint32Array(Math.ceil(n / 32) + 1).fill(0xffffffff);
    withBackend("wasm", () => a.dropoutBits(x, y, bits, n, threshold, keep));
    const yRef = new Float32Array(n), dxRef = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const m = b.nextU32() >= threshold ? keep : 0;
      yRef[i] = x[i] * m;
      dxRef[i] = dy[i] * m;
      assert.equal((bits[i >>> 5] >>> (i & 31)) & 1, m === 0 ? 0 : 1, `n ${n}: bit ${i}`);
    }
    assert.ok(sameBits(y, yRef), `n ${n}: outputs`);
    withBackend("wasm", () => denseDropoutBackward(bits, dy, dx, n, keep));
    assert.ok(sameBits(dx, dxRef), `n ${n}: input gradient`);
    for (let i = 0; i < 10; i++) assert.equal(a.nextU32(), b.nextU32());
  }
});
