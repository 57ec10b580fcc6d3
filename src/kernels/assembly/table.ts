// Row-sparse table kernels: the id index (open addressing on u64 keys), row
// creation with a seeded initialiser, per-batch deduplication with gradient
// summation, gather, and a finite check. src/kernels/ts/table.ts is the twin.

import {
  M_KEYS, M_VALS, M_CAP, M_SIZE, M_CHUNKS, M_SHIFT, M_RECBYTES, M_D, M_INIT,
  M_INITA, M_INITB, M_SEED, M_ZEROS, H_FLAGS, HEADER_BYTES,
} from "./layout";

@inline function fmix32(h: u32): u32 {
  h ^= h >>> 16;
  h *= 0x85ebca6b;
  h ^= h >>> 13;
  h *= 0xc2b2ae35;
  h ^= h >>> 16;
  return h;
}

@inline function keyHash(lo: u32, hi: u32): u32 {
  return fmix32(lo ^ fmix32(hi));
}

@inline function meta32(meta: usize, w: i32): u32 {
  return load<u32>(meta + <usize>w * 4);
}

@inline function recAddr(meta: usize, row: u32): usize {
  const shift = meta32(meta, M_SHIFT);
  const chunk = <usize>load<u32>(<usize>meta32(meta, M_CHUNKS) + (<usize>(row >>> shift)) * 4);
  return chunk + <usize>(row & ((1 << shift) - 1)) * <usize>meta32(meta, M_RECBYTES);
}

// Uniform in [0, 1) with 24 random bits: draw k of the stream of one row.
@inline function uniform(base: u32, k: u32): f64 {
  return <f64>(fmix32(base + (k + 1) * 0x9e3779b9) >>> 8) * (1.0 / 16777216.0);
}

function initRow(meta: usize, rec: usize, lo: u32, hi: u32): void {
  const bytes = <usize>meta32(meta, M_RECBYTES);
  memory.fill(rec, 0, bytes);
  const d = <i32>meta32(meta, M_D);
  const kind = meta32(meta, M_INIT);
  const a = load<f64>(meta + <usize>M_INITA * 4);
  const b = load<f64>(meta + <usize>M_INITB * 4);
  const base = fmix32(lo ^ fmix32(hi ^ fmix32(meta32(meta, M_SEED) ^ 0x9e3779b9)));
  let nonzero = false;
  for (let j = 0; j < d; j++) {
    let v: f64 = 0;
    if (kind == 1) {
      v = a + (b - a) * uniform(base, <u32>j);
    } else if (kind == 2) {
      // Irwin-Hall: the sum of 12 uniforms minus 6 has mean 0 and variance 1;
      // plain arithmetic keeps every backend bit-identical.
      let s: f64 = 0;
      for (let k = 0; k < 12; k++) s += uniform(base, <u32>(12 * j + k));
      v = a + b * (s - 6.0);
    }
    const f = <f32>v;
    store<f32>(rec + HEADER_BYTES + <usize>j * 4, f);
    if (f != 0) nonzero = true;
  }
  if (!nonzero) {
    store<u32>(rec + H_FLAGS, 1);
    store<u32>(meta + <usize>M_ZEROS * 4, meta32(meta, M_ZEROS) + 1);
  }
}

/**
 * Looks up n u64 ids, creating missing rows; writes each id's record address to
 * out. The caller guarantees index capacity >= 2 * (size + n) and row chunks for
 * size + n rows. Returns the number of rows created.
 */
export function resolve(meta: usize, ids: usize, n: i32, out: usize): i32 {
  const keys = <usize>meta32(meta, M_KEYS);
  const vals = <usize>meta32(meta, M_VALS);
  const mask = meta32(meta, M_CAP) - 1;
  let created = 0;
  for (let i = 0; i < n; i++) {
    const p = ids + <usize>i * 8;
    const key = load<u64>(p);
    const lo = load<u32>(p);
    const hi = load<u32>(p + 4);
    let h = keyHash(lo, hi) & mask;
    let row: u32 = 0;
    while (true) {
      const v = load<u32>(vals + <usize>h * 4);
      if (v == 0) {
        row = meta32(meta, M_SIZE);
        store<u32>(meta + <usize>M_SIZE * 4, row + 1);
        store<u64>(keys + <usize>h * 8, key);
        store<u32>(vals + <usize>h * 4, row + 1);
        initRow(meta, recAddr(meta, row), lo, hi);
        created++;
        break;
      }
      if (load<u64>(keys + <usize>h * 8) == key) {
        row = v - 1;
        break;
      }
      h = (h + 1) & mask;
    }
    store<u32>(out + <usize>i * 4, <u32>recAddr(meta, row));
  }
  return created;
}

/** Record address of one id, or 0 when absent. */
export function lookup(meta: usize, lo: u32, hi: u32): u32 {
  const keys = <usize>meta32(meta, M_KEYS);
  const vals = <usize>meta32(meta, M_VALS);
  const mask = meta32(meta, M_CAP) - 1;
  const key = (<u64>hi << 32) | <u64>lo;
  let h = keyHash(lo, hi) & mask;
  while (true) {
    const v = load<u32>(vals + <usize>h * 4);
    if (v == 0) return 0;
    if (load<u64>(keys + <usize>h * 8) == key) return <u32>recAddr(meta, v - 1);
    h = (h + 1) & mask;
  }
}

/** Moves the index into new key/value arrays of newCap slots (zeroed) and updates meta. */
export function rehash(meta: usize, newKeys: usize, newVals: usize, newCap: u32): void {
  const keys = <usize>meta32(meta, M_KEYS);
  const vals = <usize>meta32(meta, M_VALS);
  const cap = meta32(meta, M_CAP);
  const mask = newCap - 1;
  for (let s: u32 = 0; s < cap; s++) {
    const v = load<u32>(vals + <usize>s * 4);
    if (v == 0) continue;
    const p = keys + <usize>s * 8;
    let h = keyHash(load<u32>(p), load<u32>(p + 4)) & mask;
    while (load<u32>(newVals + <usize>h * 4) != 0) h = (h + 1) & mask;
    store<u64>(newKeys + <usize>h * 8, load<u64>(p));
    store<u32>(newVals + <usize>h * 4, v);
  }
  store<u32>(meta + <usize>M_KEYS * 4, <u32>newKeys);
  store<u32>(meta + <usize>M_VALS * 4, <u32>newVals);
  store<u32>(meta + <usize>M_CAP * 4, newCap);
}

/** Writes every row's key, in row order, to out (u64[size]). */
export function keysInRowOrder(meta: usize, out: usize): void {
  const keys = <usize>meta32(meta, M_KEYS);
  const vals = <usize>meta32(meta, M_VALS);
  const cap = meta32(meta, M_CAP);
  for (let s: u32 = 0; s < cap; s++) {
    const v = load<u32>(vals + <usize>s * 4);
    if (v != 0) store<u64>(out + <usize>(v - 1) * 8, load<u64>(keys + <usize>s * 8));
  }
}

/**
 * Deduplicates n record addresses, summing their gradient rows (and Hessian rows
 * when h != 0) in order of appearance. tab is a scratch hash of tabCap (power of
 * two, >= 2n) u32 pairs. Returns the number of distinct rows written to outRecs.
 */
export function accumulate(recs: usize, n: i32, g: usize, h: usize, d: i32, outRecs: usize, outG: usize, outH: usize, tab: usize, tabCap: u32): i32 {
  memory.fill(tab, 0, <usize>tabCap * 8);
  const mask = tabCap - 1;
  const rb = <usize>d * 4;
  let u = 0;
  for (let i = 0; i < n; i++) {
    const rec = load<u32>(recs + <usize>i * 4);
    let s = fmix32(rec) & mask;
    let j = -1;
    while (true) {
      const k = load<u32>(tab + <usize>s * 8);
      if (k == 0) break;
      if (k == rec) {
        j = <i32>load<u32>(tab + <usize>s * 8 + 4);
        break;
      }
      s = (s + 1) & mask;
    }
    const src = <usize>i * rb;
    if (j < 0) {
      store<u32>(tab + <usize>s * 8, rec);
      store<u32>(tab + <usize>s * 8 + 4, <u32>u);
      store<u32>(outRecs + <usize>u * 4, rec);
      memory.copy(outG + <usize>u * rb, g + src, rb);
      if (h) memory.copy(outH + <usize>u * rb, h + src, rb);
      u++;
    } else {
      addRow(outG + <usize>j * rb, g + src, d);
      if (h) addRow(outH + <usize>j * rb, h + src, d);
    }
  }
  return u;
}

@inline function addRow(dst: usize, src: usize, d: i32): void {
  let i = 0;
  for (; i + 4 <= d; i += 4) {
    const o = <usize>i * 4;
    v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o)));
  }
  for (; i < d; i++) {
    const o = <usize>i * 4;
    store<f32>(dst + o, load<f32>(dst + o) + load<f32>(src + o));
  }
}

/** Copies the weights of n records into out (n x d floats). */
export function gather(recs: usize, n: i32, d: i32, out: usize): void {
  const rb = <usize>d * 4;
  for (let i = 0; i < n; i++) {
    memory.copy(out + <usize>i * rb, <usize>load<u32>(recs + <usize>i * 4) + HEADER_BYTES, rb);
  }
}

/** Index of the first NaN or infinite float of n at p, or -1. */
export function findNonFinite(p: usize, n: i32): i32 {
  const zero = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(p + <usize>i * 4);
    if (!i32x4.all_true(f32x4.eq(f32x4.sub(v, v), zero))) break;
  }
  for (; i < n; i++) {
    const x = load<f32>(p + <usize>i * 4);
    if (x - x != 0) return i;
  }
  return -1;
}
