// Dropout masks from the xoshiro128** stream, the twin of Random.dropout in
// src/nn/random.ts (same numbers, same bits): for i < n, draw u (the
// generator's next output), mask[i] = u >= threshold ? keep : 0 and
// y[i] = x[i] * mask[i]. The generator state (4 u32) is read from st and the
// advanced state written back, so the stream continues where it stopped.

@inline function rotl(x: u32, k: u32): u32 {
  return (x << k) | (x >> (32 - k));
}

/**
 * threshold must be below 2^32 (the caller keeps the other case); mask 0: not
 * written. bits, when not 0, receives the mask as bits (bit i % 32 of word
 * i / 32 set where the unit is kept), for dropoutBackward.
 */
export function dropout(st: usize, x: usize, y: usize, mask: usize, bits: usize, n: i32, threshold: u32, keep: f32): void {
  const keepBits = reinterpret<i32>(keep);
  let s0 = load<u32>(st), s1 = load<u32>(st, 4), s2 = load<u32>(st, 8), s3 = load<u32>(st, 12);
  let word: u32 = 0;
  for (let i = 0; i < n; i++) {
    const r = rotl(s1 * 5, 7) * 9;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    // Bits, not a branch (a float select is a branch on x64): the comparison
    // is a coin flip, which no predictor guesses.
    const kept = <u32>(r >= threshold);
    const m = reinterpret<f32>(keepBits & -(<i32>kept));
    const o = <usize>i << 2;
    if (mask) store<f32>(mask + o, m);
    store<f32>(y + o, load<f32>(x + o) * m);
    word |= kept << (<u32>i & 31);
    if ((i & 31) == 31) {
      if (bits) store<u32>(bits + (<usize>(i >> 5) << 2), word);
      word = 0;
    }
  }
  if (bits && (n & 31) != 0) store<u32>(bits + (<usize>(n >> 5) << 2), word);
  store<u32>(st, s0);
  store<u32>(st, s1, 4);
  store<u32>(st, s2, 8);
  store<u32>(st, s3, 12);
}

/** dx[i] = dy[i] * (bit i of bits ? keep : 0), the mask of a dropout call: the bits of y = x * mask. */
export function dropoutBackward(bits: usize, dy: usize, dx: usize, n: i32, keep: f32): void {
  const keepBits = reinterpret<i32>(keep);
  for (let i = 0; i < n; i++) {
    const kept = (load<u32>(bits + (<usize>(i >> 5) << 2)) >> (<u32>i & 31)) & 1;
    const m = reinterpret<f32>(keepBits & -(<i32>kept));
    const o = <usize>i << 2;
    store<f32>(dx + o, load<f32>(dy + o) * m);
  }
}
