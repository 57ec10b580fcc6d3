import { fmix32 } from "../util/fmix32.js";
/**
 * Seeded pseudo-random numbers for initialisation (dropout masks: MaskStream): the same
 * seed gives the same numbers on every platform (integer arithmetic only).
 */

/**
 * A seed for one named stream (a parameter's initial values, a dropout
 * layer's masks) derived from a model seed. Streams keyed by name rather than
 * by construction order keep a parameter's initial values unchanged when
 * other layers are added or resized.
 */
export function deriveSeed(seed: number, name: string): number {
  let h = 0x811c9dc5; // FNV-1a over the UTF-16 code units of the name
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return fmix32(h ^ fmix32((seed + 0x9e3779b9) >>> 0));
}

/** xoshiro128** (Blackman and Vigna), its state filled by a splitmix32 sequence. */
export class Random {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /** @param seed any integer; only its low 32 bits are used. */
  constructor(seed: number) {
    let x = seed >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      return fmix32(x);
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    // The all-zero state is the one fixed point of xoshiro.
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** Writes the generator's state (s0, s1, s2, s3) to out[0..3]. */
  stateWords(out: Uint32Array): void {
    out[0] = this.s0; out[1] = this.s1; out[2] = this.s2; out[3] = this.s3;
  }

  /** A uniform unsigned 32-bit integer. */
  nextU32(): number {
    const s1 = this.s1;
    const r = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return r;
  }

  /** A uniform float in [0, 1) with 24 random bits, so exactly representable in float32. */
  nextFloat(): number {
    return (this.nextU32() >>> 8) / 16777216;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
