import { fmix32 } from "../util/fmix32.js";
import { denseAvailable, denseDropout } from "../kernels/dense.js";
import { getMatmulBackend } from "./matmul.js";

/** Below this many elements the TypeScript loop is as fast as the copies into WebAssembly. */
const WASM_DROPOUT_MIN = 4096;

/**
 * Seeded pseudo-random numbers for initialisation and dropout masks: the same
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
  /** The state handed to the WebAssembly loop (made on first use). */
  private state: Uint32Array | undefined;

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

  /**
   * Dropout in one pass: for i < n, draws u = nextU32() in order and sets
   * mask[i] = u >= threshold ? keep : 0 and y[i] = x[i] * mask[i]. The same
   * stream as n calls of nextU32, with the state in locals (several times faster).
   */
  dropout(x: Float32Array, y: Float32Array, mask: Float32Array, n: number, threshold: number, keep: number): void {
    // The same loop in WebAssembly (src/kernels/assembly/dropout.ts) is several times faster.
    if (Random.dropoutInWasm(n, threshold)) this.dropoutWasm(x, y, mask, null, n, threshold, keep);
    else this.dropoutTs(x, y, mask, n, threshold, keep);
  }

  /**
   * True when {@link dropout} of n elements runs in WebAssembly here: then
   * {@link dropoutBits} can keep the mask as bits instead of floats.
   */
  static dropoutInWasm(n: number, threshold: number): boolean {
    const backend = getMatmulBackend();
    return threshold < 4294967296 && backend !== "ts" && (backend === "wasm" || (n >= WASM_DROPOUT_MIN && denseAvailable()));
  }

  /**
   * {@link dropout} in WebAssembly (the caller checks
   * {@link Random.dropoutInWasm}) with the mask kept as bits (bit i % 32 of
   * word i / 32 set where u >= threshold, room for n / 32 words), which
   * denseDropoutBackward applies to a gradient.
   */
  dropoutBits(x: Float32Array, y: Float32Array, bits: Uint32Array, n: number, threshold: number, keep: number): void {
    this.dropoutWasm(x, y, null, bits, n, threshold, keep);
  }

  /** The WebAssembly loop on this generator's state (a null mask or bits: not written). */
  private dropoutWasm(x: Float32Array, y: Float32Array, mask: Float32Array | null, bits: Uint32Array | null, n: number, threshold: number, keep: number): void {
    const st = this.state ??= new Uint32Array(4);
    st[0] = this.s0; st[1] = this.s1; st[2] = this.s2; st[3] = this.s3;
    denseDropout(st, x, y, mask, bits, n, threshold, keep);
    this.s0 = st[0] | 0; this.s1 = st[1] | 0; this.s2 = st[2] | 0; this.s3 = st[3] | 0;
  }

  /** The TypeScript reference of {@link Random.dropout}. */
  dropoutTs(x: Float32Array, y: Float32Array, mask: Float32Array, n: number, threshold: number, keep: number): void {
    let s0 = this.s0, s1 = this.s1, s2 = this.s2, s3 = this.s3;
    for (let i = 0; i < n; i++) {
      const r = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = rotl(s3, 11);
      const m = r >= threshold ? keep : 0;
      mask[i] = m;
      y[i] = x[i] * m;
    }
    this.s0 = s0; this.s1 = s1; this.s2 = s2; this.s3 = s3;
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
