// Scalar TypeScript twin of src/kernels/assembly/table.ts (same hash, same
// probe order, same row initialiser, same summation order).
import {
  M_SLOTS, M_CAP, M_SIZE, M_CHUNKS, M_SHIFT, M_RECBYTES, M_D, M_INIT, M_INITA,
  M_INITB, M_SEED, M_ZEROS, H_FLAGS, HEADER_BYTES,
} from "../layout.js";
import type { Heap } from "../heap.js";
import { fmix32 } from "../../util/fmix32.js";

const f = Math.fround;



function keyHash(lo: number, hi: number): number {
  return fmix32((lo ^ fmix32(hi)) >>> 0);
}

function recAddr(heap: Heap, mb: number, row: number): number {
  const u = heap.u32;
  const shift = u[mb + M_SHIFT];
  const chunk = u[(u[mb + M_CHUNKS] >>> 2) + (row >>> shift)];
  return chunk + (row & ((1 << shift) - 1)) * u[mb + M_RECBYTES];
}

function uniform(base: number, k: number): number {
  return (fmix32((base + Math.imul(k + 1, 0x9e3779b9)) >>> 0) >>> 8) * (1 / 16777216);
}

function initRow(heap: Heap, meta: number, rec: number, lo: number, hi: number): void {
  const u = heap.u32, mb = meta >>> 2;
  heap.u8.fill(0, rec, rec + u[mb + M_RECBYTES]);
  const d = u[mb + M_D], kind = u[mb + M_INIT];
  const a = heap.f64[(meta + M_INITA * 4) >>> 3];
  const b = heap.f64[(meta + M_INITB * 4) >>> 3];
  const base = fmix32((lo ^ fmix32((hi ^ fmix32((u[mb + M_SEED] ^ 0x9e3779b9) >>> 0)) >>> 0)) >>> 0);
  const w = heap.f32, x = (rec + HEADER_BYTES) >>> 2;
  let nonzero = false;
  for (let j = 0; j < d; j++) {
    let v = 0;
    if (kind === 1) v = a + (b - a) * uniform(base, j);
    else if (kind === 2) {
      let s = 0;
      for (let k = 0; k < 12; k++) s += uniform(base, 12 * j + k);
      v = a + b * (s - 6);
    }
    w[x + j] = v;
    if (f(v) !== 0) nonzero = true;
  }
  if (!nonzero) {
    u[(rec + H_FLAGS) >>> 2] = 1;
    u[mb + M_ZEROS]++;
  }
}

const SLOT = 3; // words per index slot: key lo, key hi, row + 1

function findOrCreate(heap: Heap, meta: number, lo: number, hi: number): number {
  const u = heap.u32, mb = meta >>> 2;
  const slots = u[mb + M_SLOTS] >>> 2, mask = u[mb + M_CAP] - 1;
  let s = keyHash(lo, hi) & mask;
  for (;;) {
    const p = slots + s * SLOT;
    const v = u[p + 2];
    if (v === 0) {
      const row = u[mb + M_SIZE]++;
      u[p] = lo;
      u[p + 1] = hi;
      u[p + 2] = row + 1;
      const rec = recAddr(heap, mb, row);
      initRow(heap, meta, rec, lo, hi);
      return rec;
    }
    if (u[p] === lo && u[p + 1] === hi) return recAddr(heap, mb, v - 1);
    s = (s + 1) & mask;
  }
}

export function resolve(heap: Heap, meta: number, ids: number, n: number, out: number): void {
  const u = heap.u32, o = ids >>> 2;
  for (let i = 0; i < n; i++) u[(out >>> 2) + i] = findOrCreate(heap, meta, u[o + 2 * i], u[o + 2 * i + 1]);
}

/**
 * The dedup of dedupResolve and dedupLookup: each position's distinct slot
 * to inverse, the distinct ids' hashes to hashes (in order of first
 * appearance); returns the distinct ids as (lo, hi). tab is left zero.
 */
function dedupIds(heap: Heap, ids: number, n: number, hashes: number, inverse: number, tab: number): [number, number][] {
  const u = heap.u32, o = ids >>> 2, t = tab >>> 2, inv = inverse >>> 2;
  let tcap = 16;
  while (tcap < 2 * n) tcap *= 2;
  const tmask = tcap - 1;
  const keys: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    const lo = u[o + 2 * i], hi = u[o + 2 * i + 1];
    const hash = keyHash(lo, hi);
    let s = hash & tmask;
    for (;;) {
      const e = u[t + s];
      if (e === 0) {
        u[t + s] = keys.length + 1;
        u[(hashes >>> 2) + keys.length] = hash;
        u[inv + i] = keys.length;
        keys.push([lo, hi]);
        break;
      }
      if (keys[e - 1][0] === lo && keys[e - 1][1] === hi) { u[inv + i] = e - 1; break; }
      s = (s + 1) & tmask;
    }
  }
  u.fill(0, t, t + tcap);
  return keys;
}

/** Twin of the WebAssembly dedupResolve: same distinct order, inverse, sums, records and row creation order; tab is left zero. */
export function dedupResolve(
  heap: Heap, meta: number, ids: number, n: number, hashes: number, inverse: number, outRecs: number, tab: number,
  g: number, h: number, d: number, outG: number, outH: number,
): number {
  const u = heap.u32, keys = dedupIds(heap, ids, n, hashes, inverse, tab);
  if (g) {
    accumulateInverse(heap, inverse, n, g, h, d, outG, outH);
    if (findNonFinite(heap, outG, keys.length * d) >= 0 || (h !== 0 && findNonFinite(heap, outH, keys.length * d) >= 0)) return -1;
  }
  for (let j = 0; j < keys.length; j++) u[(outRecs >>> 2) + j] = findOrCreate(heap, meta, keys[j][0], keys[j][1]);
  return keys.length;
}

/**
 * Twin of the WebAssembly dedupLookup: the dedup of dedupResolve, distinct
 * keys to keys (u64), records of present ids (0 when absent); writes nothing
 * of the table. The initial weights it may precompute (init) are left to
 * createMissing here, which computes the same values.
 */
export function dedupLookup(heap: Heap, meta: number, ids: number, n: number, hashes: number, inverse: number, outRecs: number, keys: number, tab: number, _init: number): number {
  const found = dedupIds(heap, ids, n, hashes, inverse, tab), u = heap.u32, kw = keys >>> 2;
  found.forEach(([lo, hi], j) => {
    u[kw + 2 * j] = lo;
    u[kw + 2 * j + 1] = hi;
    u[(outRecs >>> 2) + j] = lookup(heap, meta, lo, hi);
  });
  return found.length;
}

/** Twin of the WebAssembly createMissing: rows for the distinct keys whose record is 0, in order; returns how many. */
export function createMissing(heap: Heap, meta: number, _hashes: number, keys: number, recs: number, count: number, _init: number): number {
  const u = heap.u32, kw = keys >>> 2;
  let created = 0;
  for (let j = 0; j < count; j++) {
    if (u[(recs >>> 2) + j] !== 0) continue;
    u[(recs >>> 2) + j] = findOrCreate(heap, meta, u[kw + 2 * j], u[kw + 2 * j + 1]);
    created++;
  }
  return created;
}

export function accumulateInverse(heap: Heap, inverse: number, n: number, g: number, h: number, d: number, outG: number, outH: number): void {
  const u = heap.u32, w = heap.f32, inv = inverse >>> 2;
  let next = 0;
  for (let i = 0; i < n; i++) {
    const j = u[inv + i], src = (g >>> 2) + i * d, hsrc = (h >>> 2) + i * d;
    const dg = (outG >>> 2) + j * d, dh = (outH >>> 2) + j * d;
    if (j === next) {
      w.copyWithin(dg, src, src + d);
      if (h) w.copyWithin(dh, hsrc, hsrc + d);
      next++;
    } else {
      for (let k = 0; k < d; k++) w[dg + k] = w[dg + k] + w[src + k];
      if (h) for (let k = 0; k < d; k++) w[dh + k] = w[dh + k] + w[hsrc + k];
    }
  }
}

export function gatherInverse(heap: Heap, recs: number, inverse: number, n: number, d: number, out: number): void {
  const u = heap.u32, w = heap.f32;
  for (let i = 0; i < n; i++) {
    const x = (u[(recs >>> 2) + u[(inverse >>> 2) + i]] + HEADER_BYTES) >>> 2;
    w.copyWithin((out >>> 2) + i * d, x, x + d);
  }
}

export function lookup(heap: Heap, meta: number, lo: number, hi: number): number {
  const u = heap.u32, mb = meta >>> 2;
  const slots = u[mb + M_SLOTS] >>> 2, mask = u[mb + M_CAP] - 1;
  let s = keyHash(lo >>> 0, hi >>> 0) & mask;
  for (;;) {
    const p = slots + s * SLOT;
    const v = u[p + 2];
    if (v === 0) return 0;
    if (u[p] === lo >>> 0 && u[p + 1] === hi >>> 0) return recAddr(heap, mb, v - 1);
    s = (s + 1) & mask;
  }
}

export function rehash(heap: Heap, meta: number, newSlots: number, newCap: number): void {
  const u = heap.u32, mb = meta >>> 2;
  const slots = u[mb + M_SLOTS] >>> 2, cap = u[mb + M_CAP];
  const ns = newSlots >>> 2, mask = newCap - 1;
  for (let s = 0; s < cap; s++) {
    const p = slots + s * SLOT;
    if (u[p + 2] === 0) continue;
    let h = keyHash(u[p], u[p + 1]) & mask;
    while (u[ns + h * SLOT + 2] !== 0) h = (h + 1) & mask;
    u.copyWithin(ns + h * SLOT, p, p + SLOT);
  }
  u[mb + M_SLOTS] = newSlots;
  u[mb + M_CAP] = newCap;
}

export function keysInRowOrder(heap: Heap, meta: number, out: number): void {
  const u = heap.u32, mb = meta >>> 2;
  const slots = u[mb + M_SLOTS] >>> 2, cap = u[mb + M_CAP];
  for (let s = 0; s < cap; s++) {
    const p = slots + s * SLOT, v = u[p + 2];
    if (v === 0) continue;
    u[(out >>> 2) + 2 * (v - 1)] = u[p];
    u[(out >>> 2) + 2 * (v - 1) + 1] = u[p + 1];
  }
}

/** The kernel's gatherExisting (its dedup scratch unused: the figures are the same id by id). */
export function gatherExisting(heap: Heap, meta: number, ids: number, n: number, out: number): number {
  const u = heap.u32, w = heap.f32, d = u[(meta >>> 2) + M_D];
  let absent = 0;
  for (let i = 0; i < n; i++) {
    const rec = lookup(heap, meta, u[(ids >>> 2) + 2 * i], u[(ids >>> 2) + 2 * i + 1]);
    const o = (out >>> 2) + i * d;
    if (rec) w.copyWithin(o, (rec + HEADER_BYTES) >>> 2, ((rec + HEADER_BYTES) >>> 2) + d);
    else { w.fill(0, o, o + d); absent++; }
  }
  return absent;
}

export function gather(heap: Heap, recs: number, n: number, d: number, out: number): void {
  const u = heap.u32, w = heap.f32;
  for (let i = 0; i < n; i++) {
    const x = (u[(recs >>> 2) + i] + HEADER_BYTES) >>> 2;
    w.copyWithin((out >>> 2) + i * d, x, x + d);
  }
}

export function findNonFinite(heap: Heap, p: number, n: number): number {
  const w = heap.f32, b = p >>> 2;
  for (let i = 0; i < n; i++) if (!Number.isFinite(w[b + i])) return i;
  return -1;
}
