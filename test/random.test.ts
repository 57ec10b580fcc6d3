// The dropout fast path draws exactly the stream of nextU32.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Random } from "../src/nn/random.js";
import { randomArray, rng, sameBits } from "./helpers/rng.js";

test("Random.dropout = nextU32 per element, then the stream continues identically", () => {
  for (const [threshold, keep] of [[2 ** 31, 2], [0, 1], [2 ** 32 - 1, 4], [1234567890, 1.25]]) {
    const a = new Random(77), b = new Random(77), n = 1001;
    const x = randomArray(rng(5), n);
    const y = new Float32Array(n), mask = new Float32Array(n), yRef = new Float32Array(n), mRef = new Float32Array(n);
    a.dropout(x, y, mask, n, threshold, keep);
    for (let i = 0; i < n; i++) {
      mRef[i] = b.nextU32() >= threshold ? keep : 0;
      yRef[i] = x[i] * mRef[i];
    }
    assert.ok(sameBits(mask, mRef) && sameBits(y, yRef), `threshold ${threshold}`);
    for (let i = 0; i < 10; i++) assert.equal(a.nextU32(), b.nextU32());
  }
});
