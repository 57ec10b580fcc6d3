// Weighted sums of float32 arrays, as the data-parallel workers add up a
// round's gradients (src/train/parallel-dense.ts): each float rounded as
// TypeScript's `dst[i] += src[i] * w` and `dst[i] *= w` round it on a
// Float32Array (the arithmetic in float64, then float32). Twin:
// src/kernels/ts/axpy.ts.

/**
 * dst[i] = float32(dst[i] + src[i] * w) for i < n, the arithmetic in
 * float64. With w = 1 that is a float32 add (float64 holds the sum of two
 * float32 before its one rounding to float32, which is then the float32
 * add's: 53 >= 2 * 24 + 2), four floats at a time.
 */
export function addScaled(dst: usize, src: usize, n: i32, w: f64): void {
  let i = 0;
  if (w == 1.0) {
    for (; i + 8 <= n; i += 8) {
      const q = dst + <usize>i * 4, s = src + <usize>i * 4;
      v128.store(q, f32x4.add(v128.load(q), v128.load(s)));
      v128.store(q, f32x4.add(v128.load(q, 16), v128.load(s, 16)), 16);
    }
    for (; i + 4 <= n; i += 4) {
      const q = dst + <usize>i * 4;
      v128.store(q, f32x4.add(v128.load(q), v128.load(src + <usize>i * 4)));
    }
  } else {
    const wv = f64x2.splat(w);
    for (; i + 2 <= n; i += 2) {
      const q = dst + <usize>i * 4;
      const a = f64x2.promote_low_f32x4(v128.load64_zero(q)), b = f64x2.promote_low_f32x4(v128.load64_zero(src + <usize>i * 4));
      v128.store64_lane(q, f32x4.demote_f64x2_zero(f64x2.add(a, f64x2.mul(b, wv))), 0);
    }
  }
  for (; i < n; i++) {
    const q = dst + <usize>i * 4;
    store<f32>(q, <f32>(<f64>load<f32>(q) + <f64>load<f32>(src + <usize>i * 4) * w));
  }
}

/** dst[i] = float32(dst[i] * w) for i < n, the product in float64. */
export function scaleBy(dst: usize, n: i32, w: f64): void {
  let i = 0;
  const wv = f64x2.splat(w);
  for (; i + 2 <= n; i += 2) {
    const q = dst + <usize>i * 4;
    v128.store64_lane(q, f32x4.demote_f64x2_zero(f64x2.mul(f64x2.promote_low_f32x4(v128.load64_zero(q)), wv)), 0);
  }
  for (; i < n; i++) {
    const q = dst + <usize>i * 4;
    store<f32>(q, <f32>(<f64>load<f32>(q) * w));
  }
}
