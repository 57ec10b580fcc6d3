/**
 * A model's dense layers on another thread (a data-parallel worker, a
 * scoring thread): the thread's layer kernels, a replica of the model's
 * layers, and the dense weights packed into one float array (model order)
 * and unpacked into the replica's parameters.
 */
import { configureLayers, layersAvailable } from "../kernels/layers/index.js";
import { createModel, type Model } from "../models/index.js";
import { getMatmulBackend } from "../nn/matmul.js";
import type { ResolvedSettings } from "./model.js";

/** The layer kernels of a thread of its own: one thread, with fused multiply-adds or not (the same bits as any other setting of `threads`). */
export function threadLayers(fma: boolean): void {
  configureLayers({ threads: 1, fma });
  if (getMatmulBackend() !== "ts") layersAvailable();
}

/** A replica of the model of `s` over `fields` key fields, its parameters uninitialised (the weights come with unpackWeights). */
export function replicaModel(s: ResolvedSettings, fields: number): Model {
  return createModel(s.model, { ...(s.modelConfig ?? {}), fields, seed: s.seed }, { params: (_n, _r, _c, v) => v });
}

/** The parameters' values, concatenated in order into `out` (a new array by default). */
export function packWeights(params: readonly { value: Float32Array }[], out: Float32Array = new Float32Array(params.reduce((a, p) => a + p.value.length, 0))): Float32Array {
  let o = 0;
  for (const p of params) { out.set(p.value, o); o += p.value.length; }
  if (o !== out.length) throw new RangeError(`${out.length} packed weights for parameters of ${o}`);
  return out;
}

/** The parameters' values from packed weights (packWeights' layout). */
export function unpackWeights(weights: Float32Array, params: readonly { value: Float32Array }[]): void {
  let o = 0;
  for (const p of params) { p.value.set(weights.subarray(o, o + p.value.length)); o += p.value.length; }
  if (o !== weights.length) throw new RangeError(`${weights.length} packed weights for parameters of ${o}`);
}
