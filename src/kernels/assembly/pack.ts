// The packing of the matrix products' operands (matmul.ts): A in panels of 4
// rows, B in panels of 8 columns, from row-major or transposed storage, with
// 4 x 4 transposes in registers. Packing only moves floats, so it cannot
// change a product's bits.

// 4 x 4 transpose of the rows r0..r3 (4 floats each): returns column q.
@inline export function col0(r0: v128, r1: v128, r2: v128, r3: v128): v128 {
  return v128.shuffle<f32>(v128.shuffle<f32>(r0, r1, 0, 4, 1, 5), v128.shuffle<f32>(r2, r3, 0, 4, 1, 5), 0, 1, 4, 5);
}
@inline export function col1(r0: v128, r1: v128, r2: v128, r3: v128): v128 {
  return v128.shuffle<f32>(v128.shuffle<f32>(r0, r1, 0, 4, 1, 5), v128.shuffle<f32>(r2, r3, 0, 4, 1, 5), 2, 3, 6, 7);
}
@inline export function col2(r0: v128, r1: v128, r2: v128, r3: v128): v128 {
  return v128.shuffle<f32>(v128.shuffle<f32>(r0, r1, 2, 6, 3, 7), v128.shuffle<f32>(r2, r3, 2, 6, 3, 7), 0, 1, 4, 5);
}
@inline export function col3(r0: v128, r1: v128, r2: v128, r3: v128): v128 {
  return v128.shuffle<f32>(v128.shuffle<f32>(r0, r1, 2, 6, 3, 7), v128.shuffle<f32>(r2, r3, 2, 6, 3, 7), 2, 3, 6, 7);
}

// Writes 4 consecutive groups (stride `step` bytes) of 4 floats from 4 source
// vectors that each hold 4 consecutive p of one line: the transpose of a 4 x 4 block.
@inline export function transpose4(s: usize, ss: usize, d: usize, step: usize): void {
  const r0 = v128.load(s), r1 = v128.load(s + ss), r2 = v128.load(s + 2 * ss), r3 = v128.load(s + 3 * ss);
  v128.store(d, col0(r0, r1, r2, r3));
  v128.store(d + step, col1(r0, r1, r2, r3));
  v128.store(d + 2 * step, col2(r0, r1, r2, r3));
  v128.store(d + 3 * step, col3(r0, r1, r2, r3));
}

// A with a(i, p) at a + i * rs + p * 4 (row-major, row stride rs bytes).
export function packRowsA(a: usize, rs: usize, pa: usize, m: i32, k: i32): void {
  const k4 = k & ~3;
  let d = pa;
  for (let i0 = 0; i0 < m; i0 += 4) {
    const h = min(4, m - i0);
    const s0 = a + <usize>i0 * rs;
    if (h == 4) {
      let p = 0;
      for (; p < k4; p += 4) {
        transpose4(s0 + (<usize>p << 2), rs, d, 16);
        d += 64;
      }
      for (; p < k; p++) {
        const s = s0 + (<usize>p << 2);
        store<f32>(d, load<f32>(s));
        store<f32>(d, load<f32>(s + rs), 4);
        store<f32>(d, load<f32>(s + 2 * rs), 8);
        store<f32>(d, load<f32>(s + 3 * rs), 12);
        d += 16;
      }
    } else {
      for (let p = 0; p < k; p++) {
        const s = s0 + (<usize>p << 2);
        for (let r = 0; r < 4; r++) store<f32>(d + (<usize>r << 2), r < h ? load<f32>(s + <usize>r * rs) : 0);
        d += 16;
      }
    }
  }
}

// A with a(i, p) at a + i * 4 + p * ps (stored transposed: [k x m], row stride ps bytes).
// Four panels (16 columns, 64 bytes of each stored row) at a time, so that every
// line of A is read once even when ps is a large power of two.
export function packColsA(a: usize, ps: usize, pa: usize, m: i32, k: i32): void {
  const pas = <usize>k << 4;
  let d = pa;
  let i0 = 0;
  for (; i0 + 16 <= m; i0 += 16) {
    let s = a + (<usize>i0 << 2), e = d;
    for (let p = 0; p < k; p++) {
      v128.store(e, v128.load(s));
      v128.store(e + pas, v128.load(s, 16));
      v128.store(e + 2 * pas, v128.load(s, 32));
      v128.store(e + 3 * pas, v128.load(s, 48));
      s += ps; e += 16;
    }
    d += pas << 2;
  }
  for (; i0 < m; i0 += 4) {
    const h = min(4, m - i0);
    let s = a + (<usize>i0 << 2);
    if (h == 4) {
      for (let p = 0; p < k; p++) {
        v128.store(d, v128.load(s));
        s += ps; d += 16;
      }
    } else {
      for (let p = 0; p < k; p++) {
        for (let r = 0; r < 4; r++) store<f32>(d + (<usize>r << 2), r < h ? load<f32>(s + (<usize>r << 2)) : 0);
        s += ps; d += 16;
      }
    }
  }
}

// B with b(p, j) at b + p * ps + j * 4 (row-major, row stride ps bytes). Two
// panels (16 columns, 64 bytes of each row) at a time, for the same reason.
export function packRowsB(b: usize, ps: usize, pb: usize, k: i32, n: i32): void {
  const pbs = <usize>k << 5;
  let d = pb;
  let j0 = 0;
  for (; j0 + 16 <= n; j0 += 16) {
    let s = b + (<usize>j0 << 2), e = d;
    for (let p = 0; p < k; p++) {
      v128.store(e, v128.load(s));
      v128.store(e, v128.load(s, 16), 16);
      v128.store(e + pbs, v128.load(s, 32));
      v128.store(e + pbs, v128.load(s, 48), 16);
      s += ps; e += 32;
    }
    d += pbs << 1;
  }
  for (; j0 < n; j0 += 8) {
    const w = min(8, n - j0);
    let s = b + (<usize>j0 << 2);
    if (w == 8) {
      for (let p = 0; p < k; p++) {
        v128.store(d, v128.load(s));
        v128.store(d, v128.load(s, 16), 16);
        s += ps; d += 32;
      }
    } else {
      for (let p = 0; p < k; p++) {
        for (let c = 0; c < 8; c++) store<f32>(d + (<usize>c << 2), c < w ? load<f32>(s + (<usize>c << 2)) : 0);
        s += ps; d += 32;
      }
    }
  }
}

// B with b(p, j) at b + j * js + p * 4 (stored transposed: [n x k], row stride js bytes).
export function packColsB(b: usize, js: usize, pb: usize, k: i32, n: i32): void {
  const k4 = k & ~3;
  let d = pb;
  for (let j0 = 0; j0 < n; j0 += 8) {
    const w = min(8, n - j0);
    const s0 = b + <usize>j0 * js;
    if (w == 8) {
      let p = 0;
      for (; p < k4; p += 4) {
        const s = s0 + (<usize>p << 2);
        transpose4(s, js, d, 32);
        transpose4(s + 4 * js, js, d + 16, 32);
        d += 128;
      }
      for (; p < k; p++) {
        const s = s0 + (<usize>p << 2);
        for (let c = 0; c < 8; c++) store<f32>(d + (<usize>c << 2), load<f32>(s + <usize>c * js));
        d += 32;
      }
    } else {
      for (let p = 0; p < k; p++) {
        const s = s0 + (<usize>p << 2);
        for (let c = 0; c < 8; c++) store<f32>(d + (<usize>c << 2), c < w ? load<f32>(s + <usize>c * js) : 0);
        d += 32;
      }
    }
  }
}
