// Dense float32 matrix products in WebAssembly SIMD, the twins of the plain
// TypeScript kernels in src/nn/matmul.ts, with the same arithmetic contract:
// every output element starts at +0 and adds the float32 products
// a(i,p) * b(p,j) for p = 0, 1, ..., k-1 in that order, rounding after every
// multiply and every add (f32x4.mul then f32x4.add, never a fused
// multiply-add). The SIMD lanes run different output elements side by side and
// the register blocking only chooses which elements are computed together, so
// every element's sum is the same sequence of float32 operations as in the
// scalar code: the same bits.
//
// Built with relaxed SIMD (dist/layers-fma.wasm, opt-in), the SIMD lanes fuse
// each multiply-add instead (f32x4.relaxed_madd: one rounding per step, about
// twice the throughput); the scalar tail of vectorTimesRows stays unfused. Every
// element still adds its products for p = 0, 1, ..., k-1 in order, so results
// stay deterministic on one machine, but are no longer the TypeScript bits.
//
// A product can also run as parts: `sgemmBlock` for disjoint row ranges of C,
// possibly on two threads over one shared memory.
// Every element of C is the same sequence of operations whichever range
// computes it, so the parts give the same bits as the whole.
//
// Products where A or C is a single row, or C a single column, run straight
// from the operands: a row vector times a row-major matrix, or a row-major
// matrix times a vector (4 x 4 blocks of A transposed in registers). Otherwise both
// operands are first repacked into the work area (so the inner loop reads two
// sequential streams whatever the layout and there are no edge cases):
// - A in panels of 4 rows: pa[(ip * k + p) * 4 + r] = a(4 ip + r, p), rows past
//   m zero;
// - B in panels of 8 columns: pb[(jp * k + p) * 8 + c] = b(p, 8 jp + c),
//   columns past n zero.
// The work area is sgemmWorkBytes(m, k, n) bytes at `work` (16-byte aligned).
// A tile of 4 rows x 8 columns of C lives in 8 v128 registers while p runs;
// padding rows and columns are computed but never stored. C is written
// row-major with row stride n. All addresses are byte offsets.

import { packRowsA, packColsA, packRowsB, packColsB, col0, col1, col2, col3 } from "./pack";

/**
 * Bytes of work area for an m x k by k x n product: packed A, then packed B
 * twice (the second copy for a split product's other thread).
 */
export function sgemmWorkBytes(m: i32, k: i32, n: i32): usize {
  return packedABytes(m, k) + 2 * packedBBytes(k, n);
}

@inline function packedABytes(m: i32, k: i32): usize {
  return <usize>((m + 3) >> 2) * <usize>k * 16;
}

@inline function packedBBytes(k: i32, n: i32): usize {
  return <usize>((n + 7) >> 3) * <usize>k * 32;
}

// acc + x * y: two roundings, or one where relaxed SIMD is compiled in.
@inline export function madd(acc: v128, x: v128, y: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(x, y, acc);
  return f32x4.add(acc, f32x4.mul(x, y));
}

/** Layouts of the split product: 0 = a * b, 1 = transpose(a) * b, 2 = a * transpose(b). */
const NN = 0, TN = 1;

/**
 * op(b) packed into B area `copy` (0 or 1) of the work area of an m x k x n
 * product (m > 1 and n > 1, so that the whole product takes the packed path
 * too), for sgemmBlock. Two threads each pack their own copy: they share no
 * written memory and neither waits for the other's packing.
 */
export function sgemmPackB(layout: i32, b: usize, m: i32, k: i32, n: i32, work: usize, copy: i32): void {
  const pb = work + packedABytes(m, k) + <usize>copy * packedBBytes(k, n);
  if (layout == NN || layout == TN) packRowsB(b, <usize>n << 2, pb, k, n);
  else packColsB(b, <usize>k << 2, pb, k, n);
}

/**
 * Rows i0..i1 of C (i0 a multiple of 4) from B as sgemmPackB left it in area
 * `copy`: those rows of op(a) packed into their own panels of the A area,
 * then the product. Disjoint blocks may run on two threads at once.
 */
export function sgemmBlock(layout: i32, a: usize, c: usize, m: i32, k: i32, n: i32, i0: i32, i1: i32, work: usize, copy: i32): void {
  const rows = i1 - i0;
  if (rows <= 0) return;
  const pb = work + packedABytes(m, k) + <usize>copy * packedBBytes(k, n);
  const part = work + <usize>(i0 >> 2) * (<usize>k << 4);
  if (layout == TN) packColsA(a + (<usize>i0 << 2), <usize>m << 2, part, rows, k);
  else packRowsA(a + <usize>i0 * (<usize>k << 2), <usize>k << 2, part, rows, k);
  product(part, pb, c + <usize>i0 * (<usize>n << 2), rows, k, n);
}

/** c[m x n] = a[m x k] * b[k x n]. */
export function sgemm(a: usize, b: usize, c: usize, m: i32, k: i32, n: i32, work: usize): void {
  if (m == 1) {
    // c is one row: a row vector times a row-major matrix, no packing.
    vectorTimesRows(a, b, <usize>n << 2, c, k, n);
    return;
  }
  if (n == 1) {
    // c is one column: a matrix times a vector, A read in place.
    rowsTimesVector(a, <usize>k << 2, b, c, m, k);
    return;
  }
  const pa = work, pb = work + packedABytes(m, k);
  packRowsA(a, <usize>k << 2, pa, m, k);
  packRowsB(b, <usize>n << 2, pb, k, n);
  product(pa, pb, c, m, k, n);
}

/** c[m x n] = transpose(a) * b, with a stored [k x m] and b [k x n]. */
export function sgemmTransA(a: usize, b: usize, c: usize, m: i32, k: i32, n: i32, work: usize): void {
  if (m == 1) {
    // c is one row, a is a vector: as in sgemm.
    vectorTimesRows(a, b, <usize>n << 2, c, k, n);
    return;
  }
  if (n == 1) {
    // c is one column: c^T = b^T a, a row vector times a row-major matrix, no packing.
    vectorTimesRows(b, a, <usize>m << 2, c, k, m);
    return;
  }
  const pa = work, pb = work + packedABytes(m, k);
  packColsA(a, <usize>m << 2, pa, m, k);
  packRowsB(b, <usize>n << 2, pb, k, n);
  product(pa, pb, c, m, k, n);
}

/** c[m x n] = a * transpose(b), with a stored [m x k] and b [n x k]. */
export function sgemmTransB(a: usize, b: usize, c: usize, m: i32, k: i32, n: i32, work: usize): void {
  if (n == 1) {
    // b is one row [1 x k], the same floats as one column [k x 1]: as in sgemm.
    sgemm(a, b, c, m, k, 1, work);
    return;
  }
  const pa = work, pb = work + packedABytes(m, k);
  packRowsA(a, <usize>k << 2, pa, m, k);
  packColsB(b, <usize>k << 2, pb, k, n);
  product(pa, pb, c, m, k, n);
}

// ---------------------------------------------------------------------------
// The product of the packed operands.

// Rows of C per block: the block's packed A (MC x k floats) stays in L2 while
// every B panel passes over it; each B panel (8 x k floats) stays in L1 while
// the block's row panels pass over it.
const MC: i32 = 64;

function product(pa: usize, pb: usize, c: usize, m: i32, k: i32, n: i32): void {
  const ldc = <usize>n << 2;
  const pas = <usize>k << 4, pbs = <usize>k << 5;
  for (let ib = 0; ib < m; ib += MC) {
    const iend = min(m, ib + MC);
    const ablock = pa + <usize>(ib >> 2) * pas;
    const cblock = c + <usize>ib * ldc;
    let bp = pb;
    for (let j0 = 0; j0 < n; j0 += 8) {
      const cols = min(8, n - j0);
      let ap = ablock;
      let cp = cblock + (<usize>j0 << 2);
      if (cols > 4) {
        for (let i0 = ib; i0 < iend; i0 += 4) {
          tile8(ap, bp, k, cp, ldc, min(4, m - i0), cols);
          ap += pas; cp += ldc << 2;
        }
      } else {
        for (let i0 = ib; i0 < iend; i0 += 4) {
          tile4(ap, bp, k, cp, ldc, min(4, m - i0), cols);
          ap += pas; cp += ldc << 2;
        }
      }
      bp += pbs;
    }
  }
}

// Stores the first `cols` (1..8) lanes of v0:v1 at row.
@inline function put(row: usize, cols: i32, v0: v128, v1: v128): void {
  if (cols == 8) {
    v128.store(row, v0);
    v128.store(row, v1, 16);
    return;
  }
  if (cols >= 4) {
    v128.store(row, v0);
    if (cols > 4) store<f32>(row, f32x4.extract_lane(v1, 0), 16);
    if (cols > 5) store<f32>(row, f32x4.extract_lane(v1, 1), 20);
    if (cols > 6) store<f32>(row, f32x4.extract_lane(v1, 2), 24);
    return;
  }
  store<f32>(row, f32x4.extract_lane(v0, 0));
  if (cols > 1) store<f32>(row, f32x4.extract_lane(v0, 1), 4);
  if (cols > 2) store<f32>(row, f32x4.extract_lane(v0, 2), 8);
}

// Stores the first `rows` (1..4) rows of a tile.
@inline function putRows(
  c: usize, ldc: usize, rows: i32, cols: i32,
  c00: v128, c01: v128, c10: v128, c11: v128, c20: v128, c21: v128, c30: v128, c31: v128,
): void {
  put(c, cols, c00, c01);
  if (rows > 1) put(c + ldc, cols, c10, c11);
  if (rows > 2) put(c + 2 * ldc, cols, c20, c21);
  if (rows > 3) put(c + 3 * ldc, cols, c30, c31);
}

// One 4 x 8 tile: a and b point at the panels' p = 0.
@inline function tile8(a: usize, b: usize, k: i32, c: usize, ldc: usize, rows: i32, cols: i32): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  for (let p = 0; p < k; p++) {
    const b0 = v128.load(b), b1 = v128.load(b, 16);
    let x = v128.load32_splat(a);
    c00 = madd(c00, x, b0);
    c01 = madd(c01, x, b1);
    x = v128.load32_splat(a, 4);
    c10 = madd(c10, x, b0);
    c11 = madd(c11, x, b1);
    x = v128.load32_splat(a, 8);
    c20 = madd(c20, x, b0);
    c21 = madd(c21, x, b1);
    x = v128.load32_splat(a, 12);
    c30 = madd(c30, x, b0);
    c31 = madd(c31, x, b1);
    a += 16; b += 32;
  }
  putRows(c, ldc, rows, cols, c00, c01, c10, c11, c20, c21, c30, c31);
}

// One 4 x 4 tile (a panel's first 4 columns), for a last panel of at most 4 columns.
@inline function tile4(a: usize, b: usize, k: i32, c: usize, ldc: usize, rows: i32, cols: i32): void {
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
  for (let p = 0; p < k; p++) {
    const b0 = v128.load(b);
    c0 = madd(c0, v128.load32_splat(a), b0);
    c1 = madd(c1, v128.load32_splat(a, 4), b0);
    c2 = madd(c2, v128.load32_splat(a, 8), b0);
    c3 = madd(c3, v128.load32_splat(a, 12), b0);
    a += 16; b += 32;
  }
  const z = f32x4.splat(0);
  putRows(c, ldc, rows, cols, c0, z, c1, z, c2, z, c3, z);
}

// c[i] = sum over p of a(i, p) * b[p] for i < m, with a(i, p) at a + i * rs + p * 4
// (row-major) and b k contiguous floats. The lanes run 4 rows: each 4 x 4
// block of A is transposed in registers (what packing would store and load
// back), 4 tiles of 4 rows at once so that their sums do not wait on each
// other. A tile past row m reads row m - 1 again for its missing rows, which
// are never stored. Every c[i] adds its products for p = 0, 1, ... in order,
// as the tiled product does.
function rowsTimesVector(a: usize, rs: usize, b: usize, c: usize, m: i32, k: i32): void {
  const k4 = k & ~3;
  let i0 = 0;
  for (; i0 + 16 <= m; i0 += 16) {
    const t0 = a + <usize>i0 * rs, t1 = t0 + (rs << 2), t2 = t1 + (rs << 2), t3 = t2 + (rs << 2);
    let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
    let p = 0;
    for (; p < k4; p += 4) {
      const o = <usize>p << 2;
      const y = v128.load(b + o);
      const y0 = v128.shuffle<f32>(y, y, 0, 0, 0, 0), y1 = v128.shuffle<f32>(y, y, 1, 1, 1, 1);
      const y2 = v128.shuffle<f32>(y, y, 2, 2, 2, 2), y3 = v128.shuffle<f32>(y, y, 3, 3, 3, 3);
      c0 = block4(c0, t0 + o, rs, rs, rs, y0, y1, y2, y3);
      c1 = block4(c1, t1 + o, rs, rs, rs, y0, y1, y2, y3);
      c2 = block4(c2, t2 + o, rs, rs, rs, y0, y1, y2, y3);
      c3 = block4(c3, t3 + o, rs, rs, rs, y0, y1, y2, y3);
    }
    for (; p < k; p++) {
      const o = <usize>p << 2, y = v128.load32_splat(b + o);
      c0 = madd(c0, gather4(t0 + o, rs, rs, rs), y);
      c1 = madd(c1, gather4(t1 + o, rs, rs, rs), y);
      c2 = madd(c2, gather4(t2 + o, rs, rs, rs), y);
      c3 = madd(c3, gather4(t3 + o, rs, rs, rs), y);
    }
    const out = c + (<usize>i0 << 2);
    v128.store(out, c0);
    v128.store(out, c1, 16);
    v128.store(out, c2, 32);
    v128.store(out, c3, 48);
  }
  for (; i0 < m; i0 += 4) {
    const rows = min(4, m - i0);
    // Offsets of rows 1..3 from row i0 (a missing row reads the last one again).
    const o1 = rows > 1 ? rs : 0, o2 = rows > 2 ? 2 * rs : o1, o3 = rows > 3 ? 3 * rs : o2;
    const t = a + <usize>i0 * rs;
    let c0 = f32x4.splat(0);
    let p = 0;
    for (; p < k4; p += 4) {
      const o = <usize>p << 2;
      const y = v128.load(b + o);
      c0 = block4(c0, t + o, o1, o2 - o1, o3 - o2,
        v128.shuffle<f32>(y, y, 0, 0, 0, 0), v128.shuffle<f32>(y, y, 1, 1, 1, 1),
        v128.shuffle<f32>(y, y, 2, 2, 2, 2), v128.shuffle<f32>(y, y, 3, 3, 3, 3));
    }
    for (; p < k; p++) {
      const o = <usize>p << 2;
      c0 = madd(c0, gather4(t + o, o1, o2 - o1, o3 - o2), v128.load32_splat(b + o));
    }
    const out = c + (<usize>i0 << 2);
    store<f32>(out, f32x4.extract_lane(c0, 0));
    if (rows > 1) store<f32>(out, f32x4.extract_lane(c0, 1), 4);
    if (rows > 2) store<f32>(out, f32x4.extract_lane(c0, 2), 8);
    if (rows > 3) store<f32>(out, f32x4.extract_lane(c0, 3), 12);
  }
}

// acc + the 4 x 4 block of A at s (rows s, s + d1, s + d1 + d2, s + d1 + d2 + d3;
// 4 consecutive p each) times b(p..p+3) splat in y0..y3, p in order.
@inline function block4(acc: v128, s: usize, d1: usize, d2: usize, d3: usize, y0: v128, y1: v128, y2: v128, y3: v128): v128 {
  const s1 = s + d1, s2 = s1 + d2, s3 = s2 + d3;
  const r0 = v128.load(s), r1 = v128.load(s1), r2 = v128.load(s2), r3 = v128.load(s3);
  acc = madd(acc, col0(r0, r1, r2, r3), y0);
  acc = madd(acc, col1(r0, r1, r2, r3), y1);
  acc = madd(acc, col2(r0, r1, r2, r3), y2);
  return madd(acc, col3(r0, r1, r2, r3), y3);
}

// The floats at s, s + d1, s + d1 + d2, s + d1 + d2 + d3 as one vector.
@inline function gather4(s: usize, d1: usize, d2: usize, d3: usize): v128 {
  const s1 = s + d1, s2 = s1 + d2;
  let v = v128.load32_zero(s);
  v = f32x4.replace_lane(v, 1, load<f32>(s1));
  v = f32x4.replace_lane(v, 2, load<f32>(s2));
  return f32x4.replace_lane(v, 3, load<f32>(s2 + d3));
}

// c[j] = sum over p of r(p, j) * x[p] for j < w, with r(p, j) at r + p * rs + j * 4:
// the lanes run 32 consecutive j at a time in 8 independent sums. (The product
// x[p] * r(p, j) is the contract's a(i,p) * b(p,j) in either order: float32
// multiplication commutes exactly.)
function vectorTimesRows(x: usize, r: usize, rs: usize, c: usize, k: i32, w: i32): void {
  let j0 = 0;
  for (; j0 + 32 <= w; j0 += 32) {
    let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
    let c4 = f32x4.splat(0), c5 = f32x4.splat(0), c6 = f32x4.splat(0), c7 = f32x4.splat(0);
    let s = r + (<usize>j0 << 2), xp = x;
    for (let p = 0; p < k; p++) {
      const y = v128.load32_splat(xp);
      c0 = madd(c0, v128.load(s), y);
      c1 = madd(c1, v128.load(s, 16), y);
      c2 = madd(c2, v128.load(s, 32), y);
      c3 = madd(c3, v128.load(s, 48), y);
      c4 = madd(c4, v128.load(s, 64), y);
      c5 = madd(c5, v128.load(s, 80), y);
      c6 = madd(c6, v128.load(s, 96), y);
      c7 = madd(c7, v128.load(s, 112), y);
      s += rs; xp += 4;
    }
    const o = c + (<usize>j0 << 2);
    v128.store(o, c0);
    v128.store(o, c1, 16);
    v128.store(o, c2, 32);
    v128.store(o, c3, 48);
    v128.store(o, c4, 64);
    v128.store(o, c5, 80);
    v128.store(o, c6, 96);
    v128.store(o, c7, 112);
  }
  for (; j0 + 4 <= w; j0 += 4) {
    let c0 = f32x4.splat(0);
    let s = r + (<usize>j0 << 2), xp = x;
    for (let p = 0; p < k; p++) {
      c0 = madd(c0, v128.load(s), v128.load32_splat(xp));
      s += rs; xp += 4;
    }
    v128.store(c + (<usize>j0 << 2), c0);
  }
  for (; j0 < w; j0++) {
    let c0: f32 = 0;
    let s = r + (<usize>j0 << 2), xp = x;
    for (let p = 0; p < k; p++) {
      c0 = c0 + load<f32>(s) * load<f32>(xp);
      s += rs; xp += 4;
    }
    store<f32>(c + (<usize>j0 << 2), c0);
  }
}
