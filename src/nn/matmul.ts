/**
 * Dense matrix products for the layers, row-major float32.
 *
 * Arithmetic contract (so that a WebAssembly SIMD twin can give the same
 * bits): every output element is a float32 sum that starts at +0 and adds the
 * float32-rounded products a(i,p) * b(p,j) for p = 0, 1, ..., k-1 in that
 * order, rounding to float32 after every addition; no fused multiply-add.
 * `Math.fround` after each operation is exact float32 arithmetic (a product of
 * two float32 values is exact in float64, and double rounding of a sum of two
 * float32 values is harmless). The blocking below changes only which elements
 * are computed together, never the order of any element's sum.
 *
 * Two implementations follow the contract: the plain TypeScript kernels here
 * (`matmulTs`, `matmulTransATs`, `matmulTransBTs`: the reference, and the
 * fallback where WebAssembly is unavailable) and the WebAssembly SIMD kernels
 * of src/kernels/layers/, many times faster on the models' shapes (bench
 * `layers`). `matmul`,
 * `matmulTransA` and `matmulTransB` choose between them by size only (see
 * {@link setMatmulBackend}), so the same inputs always take the same path;
 * both paths give the same bits anyway.
 */

import { layersAvailable, matmulFits, layerMatmul, type MatmulLayout } from "../kernels/layers/index.js";

const fr = Math.fround;

/** Which implementation the products use: "auto" (default) picks WebAssembly from {@link WASM_MIN_WORK} on. */
export type MatmulBackend = "ts" | "wasm" | "auto";

/**
 * In "auto", products with m * k * n at least this go to WebAssembly (when it
 * loads); smaller ones stay in TypeScript, where the copies in and out and the
 * call cost more than they save. Measured by `npm run bench -- layers`.
 */
export const WASM_MIN_WORK = 256;

let backend: MatmulBackend = "auto";

/**
 * Chooses the implementation of {@link matmul}, {@link matmulTransA} and
 * {@link matmulTransB} for the whole process: "ts" forces the TypeScript
 * kernels, "wasm" the WebAssembly ones (throwing if the module cannot load),
 * "auto" decides by size. Both give the same bits, so this changes speed only.
 */
export function setMatmulBackend(b: MatmulBackend): void {
  if (b !== "ts" && b !== "wasm" && b !== "auto") {
    throw new TypeError(`unknown matmul backend "${String(b)}": expected "ts", "wasm" or "auto"`);
  }
  backend = b;
}

/** The current choice of {@link setMatmulBackend}. */
export function getMatmulBackend(): MatmulBackend {
  return backend;
}

/**
 * Whether a product's or a layer's loops run in WebAssembly, by the switch
 * of {@link setMatmulBackend}: "ts" never, "wasm" always, "auto" when the
 * kernels load and `worth` (the caller's size test: large enough to pay,
 * small enough to fit) holds. Both paths give the same bits.
 */
export function runsInWasm(worth: () => boolean = () => true): boolean {
  if (backend === "ts") return false;
  if (backend === "wasm") return true;
  return worth() && layersAvailable();
}

function useWasm(m: number, k: number, n: number): boolean {
  return runsInWasm(() => m * k * n >= WASM_MIN_WORK && matmulFits(m, k, n));
}

function checkSizes(where: string, a: Float32Array, b: Float32Array, out: Float32Array, m: number, k: number, n: number): void {
  if (!(Number.isInteger(m) && Number.isInteger(k) && Number.isInteger(n) && m >= 0 && k >= 0 && n >= 0)) {
    throw new RangeError(`${where}: sizes must be non-negative integers, got m=${m} k=${k} n=${n}`);
  }
  if (a.length < m * k || b.length < k * n || out.length < m * n) {
    throw new RangeError(
      `${where}: arrays too short for m=${m} k=${k} n=${n} (a ${a.length} of ${m * k}, b ${b.length} of ${k * n}, out ${out.length} of ${m * n})`,
    );
  }
}

function dispatch(layout: MatmulLayout, where: string, a: Float32Array, b: Float32Array, out: Float32Array, m: number, k: number, n: number): void {
  checkSizes(where, a, b, out, m, k, n);
  if (useWasm(m, k, n)) layerMatmul(layout, a, b, out, m, k, n);
  else if (layout === "nn") matmulTs(a, b, out, m, k, n);
  else if (layout === "tn") matmulTransATs(a, b, out, m, k, n);
  else matmulTransBTs(a, b, out, m, k, n);
}

/** out[m x n] = a[m x k] * b[k x n]. */
export function matmul(a: Float32Array, b: Float32Array, out: Float32Array, m: number, k: number, n: number): void {
  dispatch("nn", "matmul", a, b, out, m, k, n);
}

/** out[m x n] = transpose(a) * b, with a stored [k x m] and b [k x n]. */
export function matmulTransA(a: Float32Array, b: Float32Array, out: Float32Array, m: number, k: number, n: number): void {
  dispatch("tn", "matmulTransA", a, b, out, m, k, n);
}

/** out[m x n] = a * transpose(b), with a stored [m x k] and b [n x k]. */
export function matmulTransB(a: Float32Array, b: Float32Array, out: Float32Array, m: number, k: number, n: number): void {
  dispatch("nt", "matmulTransB", a, b, out, m, k, n);
}

/** {@link matmul} in plain TypeScript: the reference. */
export function matmulTs(a: Float32Array, b: Float32Array, out: Float32Array, m: number, k: number, n: number): void {
  gemm(a, k, 1, b, n, 1, out, m, k, n);
}

/** {@link matmulTransA} in plain TypeScript: the reference. */
export function matmulTransATs(a: Float32Array, b: Float32Array, out: Float32Array, m: number, k: number, n: number): void {
  gemm(a, 1, m, b, n, 1, out, m, k, n);
}

/** {@link matmulTransB} in plain TypeScript: the reference. */
export function matmulTransBTs(a: Float32Array, b: Float32Array, out: Float32Array, m: number, k: number, n: number): void {
  gemm(a, k, 1, b, 1, k, out, m, k, n);
}

/**
 * The one kernel behind the three layouts: a(i,p) is a[i*sai + p*sap] and
 * b(p,j) is b[p*sbp + j*sbj]. 4x4 output blocks keep 16 sums in registers and
 * load 8 inputs per p; the ragged edges fall back to one element at a time.
 */
function gemm(
  a: Float32Array, sai: number, sap: number,
  b: Float32Array, sbp: number, sbj: number,
  out: Float32Array, m: number, k: number, n: number,
): void {
  const m4 = m - (m % 4), n4 = n - (n % 4);
  for (let i = 0; i < m4; i += 4) {
    const ai0 = i * sai, ai1 = ai0 + sai, ai2 = ai1 + sai, ai3 = ai2 + sai;
    for (let j = 0; j < n4; j += 4) {
      const bj0 = j * sbj, bj1 = bj0 + sbj, bj2 = bj1 + sbj, bj3 = bj2 + sbj;
      let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
      let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
      for (let p = 0; p < k; p++) {
        const ap = p * sap, bp = p * sbp;
        const a0 = a[ai0 + ap], a1 = a[ai1 + ap], a2 = a[ai2 + ap], a3 = a[ai3 + ap];
        const b0 = b[bp + bj0], b1 = b[bp + bj1], b2 = b[bp + bj2], b3 = b[bp + bj3];
        c00 = fr(c00 + fr(a0 * b0)); c01 = fr(c01 + fr(a0 * b1)); c02 = fr(c02 + fr(a0 * b2)); c03 = fr(c03 + fr(a0 * b3));
        c10 = fr(c10 + fr(a1 * b0)); c11 = fr(c11 + fr(a1 * b1)); c12 = fr(c12 + fr(a1 * b2)); c13 = fr(c13 + fr(a1 * b3));
        c20 = fr(c20 + fr(a2 * b0)); c21 = fr(c21 + fr(a2 * b1)); c22 = fr(c22 + fr(a2 * b2)); c23 = fr(c23 + fr(a2 * b3));
        c30 = fr(c30 + fr(a3 * b0)); c31 = fr(c31 + fr(a3 * b1)); c32 = fr(c32 + fr(a3 * b2)); c33 = fr(c33 + fr(a3 * b3));
      }
      let o = i * n + j;
      out[o] = c00; out[o + 1] = c01; out[o + 2] = c02; out[o + 3] = c03; o += n;
      out[o] = c10; out[o + 1] = c11; out[o + 2] = c12; out[o + 3] = c13; o += n;
      out[o] = c20; out[o + 1] = c21; out[o + 2] = c22; out[o + 3] = c23; o += n;
      out[o] = c30; out[o + 1] = c31; out[o + 2] = c32; out[o + 3] = c33;
    }
    for (let j = n4; j < n; j++) for (let r = i; r < i + 4; r++) out[r * n + j] = dot(a, r * sai, sap, b, j * sbj, sbp, k);
  }
  for (let i = m4; i < m; i++) for (let j = 0; j < n; j++) out[i * n + j] = dot(a, i * sai, sap, b, j * sbj, sbp, k);
}

/** One output element, in the contract's order. */
function dot(a: Float32Array, ai: number, sap: number, b: Float32Array, bj: number, sbp: number, k: number): number {
  let c = 0;
  for (let p = 0; p < k; p++) c = fr(c + fr(a[ai + p * sap] * b[bj + p * sbp]));
  return c;
}
