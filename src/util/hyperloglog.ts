/**
 * A HyperLogLog sketch of distinct 64-bit keys (Flajolet et al. 2007), with
 * 2^14 registers (standard error 1.04 / 2^7 = 0.81%) and Ertl's improved
 * estimator (Ertl 2017, "New cardinality estimation algorithms for
 * HyperLogLog sketches", the one Redis's PFCOUNT uses): unbiased from a few
 * keys to billions, with no empirical bias tables. Sketches of several sets
 * merge by the registers' maximum, so processes that each saw a part of the
 * keys count their union from 16 KiB each.
 *
 * Written here rather than taken from npm: the packages there hash strings
 * (a key here is two u32 words, hashed without allocation) and use the
 * classic estimator with its mid-range bias.
 */
import { keyHashA, keyHashB } from "./fmix32.js";

/** Register index bits: 2^14 registers. */
const P = 14;
const M = 1 << P;
/** Hash bits left for a register's rank: 18 of the first word and 32 of the second. */
const Q = 50;

export class HyperLogLog {
  /** Register j: the largest rank (leading zeros + 1 of the hash's other 50 bits) seen for index j. */
  readonly registers: Uint8Array;

  constructor(registers?: Uint8Array) {
    if (registers && registers.length !== M) throw new RangeError(`a HyperLogLog sketch has ${M} registers, not ${registers.length}`);
    if (registers?.some((r) => r > Q + 1)) throw new RangeError(`a HyperLogLog register above ${Q + 1}`);
    this.registers = registers ? Uint8Array.from(registers) : new Uint8Array(M);
  }

  /** Adds the key (lo, hi) (its low and high 32 bits). */
  add(lo: number, hi: number): void {
    // 64 hash bits from two rounds of MurmurHash3's finaliser over both words.
    const a = keyHashA(lo, hi), b = keyHashB(lo, hi);
    const j = a >>> (32 - P), rest = a & ((1 << (32 - P)) - 1);
    const rank = rest !== 0 ? Math.clz32(rest) - P + 1 : b !== 0 ? 32 - P + Math.clz32(b) + 1 : Q + 1;
    if (rank > this.registers[j]) this.registers[j] = rank;
  }

  /** Takes in another sketch's keys (the union of both sets). */
  merge(other: HyperLogLog): void {
    const r = this.registers, o = other.registers;
    for (let j = 0; j < M; j++) if (o[j] > r[j]) r[j] = o[j];
  }

  /** The estimated number of distinct keys added (Ertl's improved estimator). */
  count(): number {
    const c = new Float64Array(Q + 2);
    for (const r of this.registers) c[r]++;
    let z = M * tau(1 - c[Q + 1] / M);
    for (let k = Q; k >= 1; k--) z = 0.5 * (z + c[k]);
    z += M * sigma(c[0] / M);
    return Math.round(M * M / (2 * Math.LN2) / z);
  }
}

/** Ertl's sigma(x) = x + sum_{k>=1} x^(2^k) 2^(k-1). */
function sigma(x: number): number {
  if (x === 1) return Infinity;
  let y = 1, z = x, last;
  do {
    x *= x;
    last = z;
    z += x * y;
    y += y;
  } while (z !== last);
  return z;
}

/** Ertl's tau(x) = (1 - x - sum_{k>=1} (1 - x^(2^-k))^2 2^-k) / 3. */
function tau(x: number): number {
  if (x === 0 || x === 1) return 0;
  let y = 1, z = 1 - x, last;
  do {
    x = Math.sqrt(x);
    last = z;
    y *= 0.5;
    z -= (1 - x) * (1 - x) * y;
  } while (z !== last);
  return z / 3;
}
