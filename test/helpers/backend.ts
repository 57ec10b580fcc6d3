// Shared by the kernel tests: forcing the products' backend, sparse inputs.
import { getMatmulBackend, setMatmulBackend } from "../../src/nn/matmul.js";
import { randomArray } from "./rng.js";

type MatmulBackend = Parameters<typeof setMatmulBackend>[0];

/** Runs fn with the products forced to one backend, restoring the previous choice. */
export function withBackend<T>(b: MatmulBackend, fn: () => T): T {
  const before = getMatmulBackend();
  setMatmulBackend(b);
  try {
    return fn();
  } finally {
    setMatmulBackend(before);
  }
}

/** Values in [-scale, scale) with about a fifth exact signed zeros (so that signed zeros and exact cancellations occur). */
export function sparseArray(r: () => number, n: number, scale = 1): Float32Array {
  const a = randomArray(r, n, scale);
  for (let i = 0; i < n; i++) if (r() < 0.2) a[i] = r() < 0.5 ? 0 : -0;
  return a;
}
