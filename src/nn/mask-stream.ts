import { layerDropout } from "../kernels/layers/index.js";
import { runsInWasm } from "./matmul.js";
import { Random } from "./random.js";

/** Below this many elements the TypeScript loop is as fast as the copies into WebAssembly. */
const WASM_DROPOUT_MIN = 4096;

/** Interleaved generators: element i of a call draws from lane i % LANES. */
const LANES = 8;

/**
 * The random stream of dropout masks: eight xoshiro128** generators
 * interleaved, element i of a call drawing the next output of lane i % 8,
 * each call advancing every lane ceil(n / 8) times. Lane l starts as
 * `new Random(seed + 4 * l * 0x9e3779b9)` does, which continues one
 * splitmix32 sequence over the lanes. Eight lanes rather than one stream so
 * that the WebAssembly loop runs the generator in two 4-lane vectors
 * (src/kernels/assembly/dropout.ts); the TypeScript loop here is its twin and
 * gives the same bits.
 */
export class MaskStream {
  /** Word k of lane l at [k * 8 + l] (the layout of the WebAssembly loop). */
  private readonly state = new Uint32Array(4 * LANES);

  /** @param seed any integer; only its low 32 bits are used. */
  constructor(seed: number) {
    const w = new Uint32Array(4);
    for (let l = 0; l < LANES; l++) {
      new Random((seed + 4 * l * 0x9e3779b9) >>> 0).stateWords(w);
      for (let k = 0; k < 4; k++) this.state[k * LANES + l] = w[k];
    }
  }

  /**
   * True when {@link dropout} of n elements runs in WebAssembly here: then
   * {@link dropoutBits} can keep the mask as bits instead of floats.
   */
  static inWasm(n: number, threshold: number): boolean {
    return threshold < 4294967296 && runsInWasm(() => n >= WASM_DROPOUT_MIN);
  }

  /**
   * Dropout in one pass: for i < n, u = the next output of lane i % 8,
   * mask[i] = u >= threshold ? keep : 0 and y[i] = x[i] * mask[i].
   */
  dropout(x: Float32Array, y: Float32Array, mask: Float32Array, n: number, threshold: number, keep: number): void {
    if (MaskStream.inWasm(n, threshold)) layerDropout(this.state, x, y, mask, null, n, threshold, keep);
    else this.dropoutTs(x, y, mask, n, threshold, keep);
  }

  /**
   * {@link dropout} in WebAssembly (the caller checks {@link MaskStream.inWasm})
   * with the mask kept as bits (bit i % 32 of word i / 32 set where
   * u >= threshold, room for n / 32 words), which layerDropoutBackward
   * applies to a gradient.
   */
  dropoutBits(x: Float32Array, y: Float32Array, bits: Uint32Array, n: number, threshold: number, keep: number): void {
    layerDropout(this.state, x, y, null, bits, n, threshold, keep);
  }

  /** The TypeScript twin of the WebAssembly loop. */
  dropoutTs(x: Float32Array, y: Float32Array, mask: Float32Array, n: number, threshold: number, keep: number): void {
    const s = this.state;
    for (let base = 0; base < n; base += LANES) {
      for (let l = 0; l < LANES; l++) {
        let s0 = s[l], s1 = s[LANES + l], s2 = s[2 * LANES + l], s3 = s[3 * LANES + l];
        const r = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
        const t = s1 << 9;
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= t;
        s3 = rotl(s3, 11);
        s[l] = s0; s[LANES + l] = s1; s[2 * LANES + l] = s2; s[3 * LANES + l] = s3;
        const i = base + l;
        if (i < n) {
          const m = r >= threshold ? keep : 0;
          mask[i] = m;
          y[i] = x[i] * m;
        }
      }
    }
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
