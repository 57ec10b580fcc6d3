import { fmix32 } from "../util/fmix32.js";

/**
 * Feature keys: a (field, value) pair hashed to 64 bits, kept as two 32-bit
 * halves so that no BigInt is made per feature. The value is hashed as its
 * bytes in the file (an empty value, i.e. missing, hashes like any other, so
 * "missing" is its own feature per field). Two independent 32-bit lanes
 * (FNV-1a style multiply-xor with different primes and seeds, each finished by
 * the murmur3 mixer) make the 64 bits; with 34M distinct features the chance
 * of any collision is about 3e-5.
 */
export const KEY_SEED_LO = 0x811c9dc5;
export const KEY_SEED_HI = 0x2f6b5a1d;

/**
 * Writes the key of (field, bytes[start:end]) to out[o] (low half) and
 * out[o + 1] (high half).
 */
export function hashKey(field: number, bytes: Uint8Array, start: number, end: number, out: Uint32Array, o: number): void {
  // No byte is -1: every byte up to end is hashed.
  hashKeyUntil(field, bytes, start, end, -1, out, o);
}

/**
 * hashKey of (field, bytes[start:end]) where end is the first `stop` byte at
 * or after start, or `limit`: the bytes are scanned and hashed in one pass.
 * Returns end.
 */
export function hashKeyUntil(field: number, bytes: Uint8Array, start: number, limit: number, stop: number, out: Uint32Array, o: number): number {
  let a = (KEY_SEED_LO ^ Math.imul(field + 1, 0x9e3779b1)) | 0;
  let b = (KEY_SEED_HI + Math.imul(field + 1, 0x85ebca77)) | 0;
  let i = start;
  for (; i < limit; i++) {
    const c = bytes[i];
    if (c === stop) break;
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  const n = i - start;
  const lo = fmix32((a ^ n) >>> 0);
  out[o] = lo;
  out[o + 1] = fmix32((b ^ lo ^ Math.imul(n, 0x27d4eb2f)) >>> 0);
  return i;
}

const enc = new TextEncoder();
const tmp = new Uint32Array(2);

/** The key of (field, value string) as a bigint: for tests, vocabularies and reports. */
export function featureKey(field: number, value: string): bigint {
  const b = enc.encode(value);
  hashKey(field, b, 0, b.length, tmp, 0);
  return (BigInt(tmp[1]) << 32n) | BigInt(tmp[0]);
}
