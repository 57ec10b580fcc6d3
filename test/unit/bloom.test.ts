// The Bloom filter (src/util/bloom.ts): no false negatives; the rate of
// keys never added reported as added, measured on 400k keys, within 15% of
// the closed form (1 - e^(-kn/m))^k and of the filter's own estimate
// (fill^k), for k = 1, 3 and 5 and sequential keys as well as random ones;
// two filters of overlapping key sets merged segment by segment give
// exactly the words of one filter of every key; the changed segments
// reported are exactly those whose words changed (brute force); sizes and
// probes out of range throw.
import { test } from "node:test";
import assert from "node:assert/strict";
import { BloomFilter } from "../../src/util/bloom.js";
import { rng } from "../helpers/rng.js";

const u32 = (r: () => number): number => Math.floor(r() * 2 ** 32) >>> 0;

test("Bloom filter: every key added is found; keys never added are found at the closed-form rate, which the filter estimates", () => {
  const r = rng(1);
  for (const k of [1, 3, 5]) {
    for (const sequential of [false, true]) {
      const m = 2 ** 20, n = 150_000, f = new BloomFilter(m, k);
      const keys: [number, number][] = [];
      for (let i = 0; i < n; i++) keys.push(sequential ? [i, 7] : [u32(r), u32(r)]);
      for (const [lo, hi] of keys) f.add(lo, hi);
      for (const [lo, hi] of keys) assert.ok(f.has(lo, hi), `k ${k}: key (${lo}, ${hi}) added, not found`);
      let fp = 0;
      const trials = 400_000;
      for (let i = 0; i < trials; i++) if (sequential ? f.has(n + i, 7) : f.has(u32(r), u32(r) ^ 1)) fp++;
      const rate = fp / trials, closed = (1 - Math.exp(-k * n / m)) ** k;
      assert.ok(Math.abs(rate / closed - 1) < 0.15, `k ${k}${sequential ? ", sequential keys" : ""}: false positives ${rate}, closed form ${closed}`);
      assert.ok(Math.abs(f.falsePositiveRate() / closed - 1) < 0.15, `k ${k}: estimate ${f.falsePositiveRate()}, closed form ${closed}`);
    }
  }
});

test("Bloom filter: filters of overlapping parts merged by segment equal one filter of every key; the changed segments are those whose words changed", () => {
  const r = rng(2), m = 2 ** 16, seg = 64;
  const a = new BloomFilter(m, 3, seg), b = new BloomFilter(m, 3, seg), all = new BloomFilter(m, 3, seg);
  assert.equal(a.segments, m / 32 / seg);
  for (let i = 0; i < 3000; i++) {
    const lo = u32(r), hi = u32(r), where = r();
    if (where < 0.6) a.add(lo, hi);
    if (where > 0.4) b.add(lo, hi);
    all.add(lo, hi);
  }
  a.takeChanged();
  const before = a.words.slice();
  for (let s = 0; s < b.segments; s++) a.orSegment(s, b.segment(s));
  assert.deepEqual(a.words, all.words);
  // OR does not mark segments (only add does): a few more keys, then brute force.
  const marked = a.words.slice();
  for (let i = 0; i < 20; i++) a.add(u32(r), u32(r));
  const want: number[] = [];
  for (let s = 0; s < a.segments; s++) {
    for (let w = s * seg; w < (s + 1) * seg; w++) if (a.words[w] !== marked[w]) { want.push(s); break; }
  }
  assert.ok(want.length > 5 && want.length < a.segments, `${want.length} segments changed`);
  assert.deepEqual(a.takeChanged(), want);
  assert.deepEqual(a.takeChanged(), []);
  assert.notDeepEqual(before, a.words, "the OR added the other filter's bits");
  // A shorter segment is zeros beyond its end.
  const c = new BloomFilter(m, 3, seg);
  c.orSegment(1, Uint32Array.of(5));
  assert.equal(c.words[seg], 5);
  assert.throws(() => c.orSegment(0, new Uint32Array(seg + 1)), RangeError);
});

test("Bloom filter: sizes that are not powers of two, probes out of range and segments out of range throw", () => {
  for (const bits of [0, 16, 1000, 2 ** 33, 1.5]) assert.throws(() => new BloomFilter(bits), /power of two/);
  for (const k of [0, 17, 2.5]) assert.throws(() => new BloomFilter(1024, k), /probes/);
  assert.throws(() => new BloomFilter(1024, 3, 3), /segment words/);
  assert.throws(() => new BloomFilter(1024).segment(1), RangeError);
  assert.equal(new BloomFilter(1024, 3, 1 << 14).segments, 1, "a segment no larger than the filter");
});

test("Bloom filter in shared memory: a filter attached to its state holds the same bits and change marks as a private one of the same keys", () => {
  const r = rng(4), m = 2 ** 14, seg = 32;
  const shared = new BloomFilter(m, 3, seg, true), other = BloomFilter.attach(shared.state()), plain = new BloomFilter(m, 3, seg);
  assert.ok(shared.words.buffer instanceof SharedArrayBuffer && !(plain.words.buffer instanceof SharedArrayBuffer));
  for (let i = 0; i < 500; i++) {
    const lo = u32(r), hi = u32(r);
    (i % 2 ? shared : other).add(lo, hi);
    plain.add(lo, hi);
    assert.ok(shared.has(lo, hi) && other.has(lo, hi));
  }
  assert.deepEqual(Array.from(shared.words), Array.from(plain.words));
  // The marks are one set: whichever handle takes them takes them all.
  const marks = plain.takeChanged();
  assert.deepEqual(other.takeChanged(), marks);
  assert.deepEqual(shared.takeChanged(), []);
  assert.throws(() => plain.state(), /shared/);
  assert.throws(() => new BloomFilter(m * 2, 3, seg, shared.state()), /does not match/);
});
