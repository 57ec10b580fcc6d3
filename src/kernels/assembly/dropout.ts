// Dropout masks from eight interleaved xoshiro128** generators, the twin of
// MaskStream.dropoutTs in src/nn/mask-stream.ts (same numbers, same bits):
// element i takes the next output u of lane i % 8, mask[i] = u >= threshold ?
// keep : 0 and y[i] = x[i] * mask[i]; a call advances every lane ceil(n / 8)
// times. Eight independent lanes rather than one stream so that the
// generator runs in two 4-lane vectors (one stream is a chain of dependent
// steps that no vector can shorten).
// The state is 32 u32 at st: word k of lane l at st[k * 8 + l], read and
// written back, so the stream continues where it stopped.

const LANE_BITS_LO: v128 = i32x4(1, 2, 4, 8);
const LANE_BITS_HI: v128 = i32x4(16, 32, 64, 128);

@inline function rotl4(x: v128, k: i32): v128 {
  return v128.or(i32x4.shl(x, k), i32x4.shr_u(x, 32 - k));
}

/**
 * threshold must be below 2^32 (the caller keeps the other case); mask 0: not
 * written. bits, when not 0, receives the mask as bits (bit i % 32 of word
 * i / 32 set where the unit is kept), for dropoutBackward.
 */
export function dropout(st: usize, x: usize, y: usize, mask: usize, bits: usize, n: i32, threshold: u32, keep: f32): void {
  let a0 = v128.load(st), a1 = v128.load(st, 32), a2 = v128.load(st, 64), a3 = v128.load(st, 96);
  let b0 = v128.load(st, 16), b1 = v128.load(st, 48), b2 = v128.load(st, 80), b3 = v128.load(st, 112);
  const thr = i32x4.splat(threshold), vk = f32x4.splat(keep), five = i32x4.splat(5), nine = i32x4.splat(9);
  let word: u32 = 0;
  for (let i = 0; i < n; i += 8) {
    // Both lanes' steps written out together: two independent chains.
    const ra = i32x4.mul(rotl4(i32x4.mul(a1, five), 7), nine);
    const rb = i32x4.mul(rotl4(i32x4.mul(b1, five), 7), nine);
    const ta = i32x4.shl(a1, 9), tb = i32x4.shl(b1, 9);
    a2 = v128.xor(a2, a0); b2 = v128.xor(b2, b0);
    a3 = v128.xor(a3, a1); b3 = v128.xor(b3, b1);
    a1 = v128.xor(a1, a2); b1 = v128.xor(b1, b2);
    a0 = v128.xor(a0, a3); b0 = v128.xor(b0, b3);
    a2 = v128.xor(a2, ta); b2 = v128.xor(b2, tb);
    a3 = rotl4(a3, 11); b3 = rotl4(b3, 11);
    const ka = i32x4.ge_u(ra, thr), kb = i32x4.ge_u(rb, thr);
    const ma = v128.and(vk, ka), mb = v128.and(vk, kb);
    const kept = <u32>(i32x4.bitmask(ka) | (i32x4.bitmask(kb) << 4));
    const o = <usize>i << 2;
    if (i + 8 <= n) {
      if (mask) {
        v128.store(mask + o, ma);
        v128.store(mask + o, mb, 16);
      }
      v128.store(y + o, f32x4.mul(v128.load(x + o), ma));
      v128.store(y + o, f32x4.mul(v128.load(x + o, 16), mb), 16);
      word |= kept << (<u32>i & 31);
    } else {
      // The last, partial group: its lanes advance, only n - i elements are written.
      const left = n - i;
      for (let l = 0; l < left; l++) {
        const m = l < 4 ? pick(ma, l) : pick(mb, l - 4);
        const p = o + (<usize>l << 2);
        if (mask) store<f32>(mask + p, m);
        store<f32>(y + p, load<f32>(x + p) * m);
      }
      word |= (kept & ((<u32>1 << <u32>left) - 1)) << (<u32>i & 31);
    }
    if ((i & 31) == 24 || i + 8 >= n) {
      if (bits) store<u32>(bits + (<usize>(i >> 5) << 2), word);
      word = 0;
    }
  }
  v128.store(st, a0); v128.store(st, a1, 32); v128.store(st, a2, 64); v128.store(st, a3, 96);
  v128.store(st, b0, 16); v128.store(st, b1, 48); v128.store(st, b2, 80); v128.store(st, b3, 112);
}

// Lane l (0..3) of a float vector; a switch because the lane index of an extract is a constant.
@inline function pick(v: v128, l: i32): f32 {
  if (l == 0) return f32x4.extract_lane(v, 0);
  if (l == 1) return f32x4.extract_lane(v, 1);
  if (l == 2) return f32x4.extract_lane(v, 2);
  return f32x4.extract_lane(v, 3);
}

/** dx[i] = dy[i] * (bit i of bits ? keep : 0), the mask of a dropout call: the bits of y = x * mask. */
export function dropoutBackward(bits: usize, dy: usize, dx: usize, n: i32, keep: f32): void {
  const vk = f32x4.splat(keep), zero = i32x4.splat(0);
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const b = i32x4.splat((load<u32>(bits + (<usize>(i >> 5) << 2)) >> (<u32>i & 31)) & 0xff);
    const ma = v128.and(vk, i32x4.ne(v128.and(b, LANE_BITS_LO), zero));
    const mb = v128.and(vk, i32x4.ne(v128.and(b, LANE_BITS_HI), zero));
    const o = <usize>i << 2;
    v128.store(dx + o, f32x4.mul(v128.load(dy + o), ma));
    v128.store(dx + o, f32x4.mul(v128.load(dy + o, 16), mb), 16);
  }
  const keepBits = reinterpret<i32>(keep);
  for (; i < n; i++) {
    const kept = (load<u32>(bits + (<usize>(i >> 5) << 2)) >> (<u32>i & 31)) & 1;
    const m = reinterpret<f32>(keepBits & -(<i32>kept));
    const o = <usize>i << 2;
    store<f32>(dx + o, load<f32>(dy + o) * m);
  }
}
