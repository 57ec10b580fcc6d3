/**
 * Counter-based randomness for the synthetic generator: every random number is
 * a pure function of (seed, stream, slot), so row i can be generated without
 * generating rows 0..i-1, in any process, in any order.
 *
 * The mixing is MurmurHash3's 32-bit block step and finaliser (public-domain
 * algorithm by Austin Appleby), written here with Math.imul so the hot path
 * needs neither BigInt nor allocation.
 */

import { fmix32 } from "../../util/fmix32.js";

const M1 = 0xcc9e2d51, M2 = 0x1b873593;

/** Mixes the 32-bit word k into the running hash h (MurmurHash3 block step). */
export function mix(h: number, k: number): number {
  k = Math.imul(k, M1);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, M2);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** MurmurHash3's finaliser: a bijection of 32-bit words with full avalanche. */
export const fmix = fmix32;

const TWO32 = 4294967296;
const TWO53 = 9007199254740992;

/** A uniform 32-bit word for (prefix, slot). */
export function word(prefix: number, slot: number): number {
  return fmix(mix(prefix, slot));
}

/** A uniform double in [0, 1) with 32 bits of resolution. */
export function unit32(prefix: number, slot: number): number {
  return fmix(mix(prefix, slot)) / TWO32;
}

/**
 * A uniform double in [0, 1) with the full 53 bits (from slots `slot` and
 * `slot + 1`): the Zipf samplers need the resolution for vocabularies of
 * millions, where one rank's probability can be below 2^-32.
 */
export function unit53(prefix: number, slot: number): number {
  const a = fmix(mix(prefix, slot));
  const b = fmix(mix(prefix, slot + 1));
  return (a * 2097152 + (b >>> 11)) / TWO53;
}

/** A standard normal draw (Box–Muller on two 53-bit uniforms at slots slot..slot+3). */
export function gauss(prefix: number, slot: number): number {
  const u = 1 - unit53(prefix, slot); // (0, 1]: the logarithm stays finite
  const v = unit53(prefix, slot + 2);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/**
 * The key of a seed (a safe integer) from which every stream prefix derives.
 * Seeds that differ in any bit give unrelated keys.
 */
export function seedKey(seed: number): number {
  const lo = seed >>> 0, hi = Math.floor(seed / TWO32) >>> 0;
  return fmix(mix(mix(0x243f6a88, lo), hi)) | 0;
}

/**
 * The prefix of stream (a, b) under a seed key: rows use (row low word, row
 * high word); other streams use a high word no row index reaches (rows are
 * below 2^53, so their high word is below 2^21).
 */
export function streamPrefix(key: number, a: number, b: number): number {
  return mix(mix(key, a), b);
}

/** High words reserved for non-row streams (all >= 2^31, unreachable by rows). */
export const STREAM = {
  teacher: 0x80000001,
  informative: 0x80000002,
  calibration: 0x80000003,
  values: 0x80000004,
  ids: 0x80000005,
  pairs: 0x80000006,
  drift: 0x80000007,
} as const;

/** The multiplicative inverse of an odd 32-bit word modulo 2^32 (Newton's iteration). */
function inverseOdd(a: number): number {
  let x = a; // correct to 3 bits for odd a; each step doubles the correct bits
  for (let i = 0; i < 5; i++) x = Math.imul(x, 2 - Math.imul(a, x));
  return x >>> 0;
}

const P1 = 0x7feb352d, P2 = 0x846ca68b;
const P1I = inverseOdd(P1), P2I = inverseOdd(P2);

/**
 * A keyed bijection of [0, 2^bits) (bits in 2..32): xor with the key, then
 * xorshift-multiply rounds. Each step is invertible on `bits` bits (a right
 * xorshift by at least half the width undoes itself; odd multipliers have
 * inverses modulo 2^bits), so distinct ranks always get distinct values and
 * a value string can be decoded back to its rank.
 */
export function permute(x: number, bits: number, key: number): number {
  const mask = (2 ** bits - 1) | 0;
  const sh = (bits + 1) >> 1;
  x = (x ^ key) & mask;
  x ^= x >>> sh;
  x = Math.imul(x, P1) & mask;
  x ^= x >>> sh;
  x = Math.imul(x, P2) & mask;
  x ^= x >>> sh;
  return x >>> 0;
}

/** The inverse of {@link permute} for the same bits and key. */
export function unpermute(y: number, bits: number, key: number): number {
  const mask = (2 ** bits - 1) | 0;
  const sh = (bits + 1) >> 1;
  y &= mask;
  y ^= y >>> sh;
  y = Math.imul(y, P2I) & mask;
  y ^= y >>> sh;
  y = Math.imul(y, P1I) & mask;
  y ^= y >>> sh;
  return ((y ^ key) & mask) >>> 0;
}
