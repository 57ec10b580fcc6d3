/**
 * Seeded initial values. Uniform schemes, as the common frameworks' defaults
 * for CTR towers:
 * - "he": U(-sqrt(6 / fanIn), +sqrt(6 / fanIn)) (He et al. 2015, uniform form),
 *   for weights feeding a ReLU, whose variance 2 / fanIn keeps activations'
 *   scale through the half of units a ReLU silences;
 * - "glorot": U(-sqrt(6 / (fanIn + fanOut)), +...) (Glorot and Bengio 2010),
 *   for weights not followed by a ReLU (output layers, cross layers);
 * - biases start at zero.
 */
import { Random, deriveSeed } from "./random.js";

/** How a weight matrix is initialised. */
export type InitScheme = "he" | "glorot" | "zeros";

/** Half-width of the uniform interval of a scheme. */
export function initBound(scheme: InitScheme, fanIn: number, fanOut: number): number {
  switch (scheme) {
    case "he": return Math.sqrt(6 / fanIn);
    case "glorot": return Math.sqrt(6 / (fanIn + fanOut));
    case "zeros": return 0;
  }
}

/**
 * n float32 values uniform in [-bound, bound), from the stream of (seed, name):
 * the same seed and name give the same values bit for bit.
 */
export function uniformInit(n: number, bound: number, seed: number, name: string): Float32Array {
  const out = new Float32Array(n);
  if (bound === 0) return out;
  const r = new Random(deriveSeed(seed, name));
  for (let i = 0; i < n; i++) out[i] = (r.nextFloat() * 2 - 1) * bound;
  return out;
}
