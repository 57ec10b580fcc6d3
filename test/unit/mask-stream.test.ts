// Dropout masks: the TypeScript loop and the WebAssembly one both draw the
// documented stream, checked here against eight plain Random generators.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Random } from "../../src/nn/random.js";
import { MaskStream } from "../../src/nn/mask-stream.js";
import { Dropout } from "../../src/nn/dropout.js";
import { randomArray, rng, sameBits } from "../helpers/rng.js";
import { withBackend } from "../helpers/backend.js";

/** The documented stream: lane l is Random(seed + 4 l golden); element i of a call draws lane i % 8; a call advances every lane ceil(n / 8) times. */
class Reference {
  private readonly lanes: Random[];
  constructor(seed: number) {
    this.lanes = Array.from({ length: 8 }, (_, l) => new Random((seed + 4 * l * 0x9e3779b9) >>> 0));
  }
  draws(n: number): number[] {
    const out: number[] = [];
    for (let g = 0; g < Math.ceil(n / 8); g++) for (let l = 0; l < 8; l++) out.push(this.lanes[l].nextU32());
    return out.slice(0, n);
  }
}

const CASES: [number, number, number][] = [
  [2 ** 31, 2, 1001], [0, 1, 7], [2 ** 32 - 1, 4, 4099], [1234567890, 1.25, 20_001], [3e9, 1.5, 1], [2 ** 30, Math.fround(4 / 3), 64], [2 ** 31, 2, 4104],
];

for (const backend of ["ts", "wasm", "auto"] as const) test(`MaskStream.dropout (${backend}): the eight-lane stream, continued across calls of ragged lengths`, () => {
  for (const [threshold, keep, n] of [...CASES, [2 ** 32, 2, 5000] as [number, number, number]]) {
    const a = new MaskStream(77), ref = new Reference(77);
    const x = randomArray(rng(5), Math.max(n, 9));
    // Three calls: each continues every lane from where the last left it, partial groups included.
    for (const len of [n, n, 9]) {
      const y = new Float32Array(len).fill(NaN), mask = new Float32Array(len).fill(NaN);
      withBackend(backend, () => a.dropout(x, y, mask, len, threshold, keep));
      const u = ref.draws(len), mRef = new Float32Array(len), yRef = new Float32Array(len);
      for (let i = 0; i < len; i++) {
        mRef[i] = u[i] >= threshold ? keep : 0;
        yRef[i] = x[i] * mRef[i];
      }
      assert.ok(sameBits(mask, mRef) && sameBits(y, yRef), `threshold ${threshold} n ${n} call of ${len}`);
    }
  }
});

test("MaskStream: different seeds give different masks, the keep rate is 1 - rate", () => {
  const n = 80_000, x = new Float32Array(n).fill(1);
  const masks = [1, 2].map((seed) => {
    const y = new Float32Array(n), mask = new Float32Array(n);
    withBackend("wasm", () => new MaskStream(seed).dropout(x, y, mask, n, Math.round(0.3 * 2 ** 32), 1));
    return mask;
  });
  let kept = 0, same = 0;
  for (let i = 0; i < n; i++) { kept += masks[0][i]; same += masks[0][i] === masks[1][i] ? 1 : 0; }
  // 0.7 +- 5 standard deviations (0.0016); two independent masks agree on 0.7^2 + 0.3^2 = 0.58.
  assert.ok(Math.abs(kept / n - 0.7) < 0.008, `keep rate ${kept / n}`);
  assert.ok(Math.abs(same / n - 0.58) < 0.01, `agreement ${same / n}`);
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

test("MaskStream.dropoutBits: the mask as bits (ragged lengths); layerDropoutBackward gives dy times the float mask", async () => {
  const { layerDropoutBackward } = await import("../../src/kernels/layers/index.js");
  for (const [threshold, keep, n] of CASES) {
    const a = new MaskStream(31), ref = new Reference(31), r = rng(8);
    const x = randomArray(r, n), dy = randomArray(r, n), y = new Float32Array(n), dx = new Float32Array(n);
    // Stale bits beyond n must not matter: the words start full of ones.
    const bits = new Uint32Array(Math.ceil(n / 32) + 1).fill(0xffffffff);
    withBackend("wasm", () => a.dropoutBits(x, y, bits, n, threshold, keep));
    const u = ref.draws(n), yRef = new Float32Array(n), dxRef = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const m = u[i] >= threshold ? keep : 0;
      yRef[i] = x[i] * m;
      dxRef[i] = dy[i] * m;
      assert.equal((bits[i >>> 5] >>> (i & 31)) & 1, m === 0 ? 0 : 1, `n ${n}: bit ${i}`);
    }
    assert.ok(sameBits(y, yRef), `n ${n}: outputs`);
    withBackend("wasm", () => layerDropoutBackward(bits, dy, dx, n, keep));
    assert.ok(sameBits(dx, dxRef), `n ${n}: input gradient`);
  }
});
