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
