// MurmurHash3's 32-bit finaliser (src/util/fmix32.ts is the TypeScript one):
// the id index, the row initialiser and the shard of a key all mix with it.

@inline export function fmix32(h: u32): u32 {
  h ^= h >>> 16;
  h *= 0x85ebca6b;
  h ^= h >>> 13;
  h *= 0xc2b2ae35;
  h ^= h >>> 16;
  return h;
}
