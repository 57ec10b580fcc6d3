import { rng } from "../test/helpers/rng.js";

/** The seeded uniform generator of the tests (mulberry32). */
export const mulberry = rng;

/**
 * Seeded, heavy-tailed feature-id batches for benchmarks: ranks drawn from a
 * Zipf-like law over `vocab` features, each rank mapped to a fixed random
 * 64-bit key (hashed features look like that).
 */
export function splitmix(seed: number): () => bigint {
  let s = BigInt.asUintN(64, BigInt(seed));
  return () => {
    s = BigInt.asUintN(64, s + 0x9e3779b97f4a7c15n);
    let z = s;
    z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n);
    z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn);
    return z ^ (z >> 31n);
  };
}

/** Keys of `vocab` features: key[rank]. */
export function featureKeys(vocab: number, seed: number): BigUint64Array {
  const next = splitmix(seed);
  const keys = new BigUint64Array(vocab);
  for (let i = 0; i < vocab; i++) keys[i] = next();
  return keys;
}

/** `count` batches of `size` ids; rank r has probability proportional to (r + 1)^-s. */
export function zipfBatches(keys: BigUint64Array, s: number, size: number, count: number, seed: number): BigUint64Array[] {
  const vocab = keys.length;
  const cdf = new Float64Array(vocab);
  let acc = 0;
  for (let r = 0; r < vocab; r++) { acc += Math.pow(r + 1, -s); cdf[r] = acc; }
  const rand = mulberry(seed);
  const out: BigUint64Array[] = [];
  for (let b = 0; b < count; b++) {
    const ids = new BigUint64Array(size);
    for (let i = 0; i < size; i++) {
      const u = rand() * acc;
      let lo = 0, hi = vocab - 1;
      while (lo < hi) { const mid = (lo + hi) >>> 1; if (cdf[mid] < u) lo = mid + 1; else hi = mid; }
      ids[i] = keys[lo];
    }
    out.push(ids);
  }
  return out;
}

export function distinct(ids: BigUint64Array): number {
  return new Set(ids).size;
}
