/**
 * Twin of src/kernels/assembly/axpy.ts: weighted sums of float32 arrays,
 * each float as TypeScript rounds `dst[i] += src[i] * w` on a Float32Array.
 */
import type { Heap } from "../heap.js";

/** dst[i] = float32(dst[i] + src[i] * w) for i < n, the arithmetic in float64. */
export function addScaled(heap: Heap, dst: number, src: number, n: number, w: number): void {
  const f = heap.f32, d = dst >>> 2, s = src >>> 2;
  for (let i = 0; i < n; i++) f[d + i] += f[s + i] * w;
}

/** dst[i] = float32(dst[i] * w) for i < n, the product in float64. */
export function scaleBy(heap: Heap, dst: number, n: number, w: number): void {
  const f = heap.f32, d = dst >>> 2;
  for (let i = 0; i < n; i++) f[d + i] *= w;
}
