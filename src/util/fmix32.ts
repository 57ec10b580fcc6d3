/**
 * MurmurHash3's 32-bit finaliser: a bijection of u32 that spreads every input
 * bit over the output. Shared by the id index twin, the feature keys, the
 * vocabulary and the layers' seeded random streams (the WebAssembly kernels
 * use the same steps).
 */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Two independent 32-bit hashes of a 64-bit key given as (lo, hi) words,
 * from two rounds of the finaliser over both words (no allocation): the
 * feature sketches' hashes (./hyperloglog.ts, ./bloom.ts).
 */
export function keyHashA(lo: number, hi: number): number {
  return fmix32((lo ^ fmix32((hi ^ 0x9e3779b9) >>> 0)) >>> 0);
}

/** The second hash of keyHashA's key. */
export function keyHashB(lo: number, hi: number): number {
  return fmix32((hi ^ fmix32((lo ^ 0x7f4a7c15) >>> 0) ^ 0x85ebca6b) >>> 0);
}
