import type { Param } from "./param.js";

/**
 * A layer with explicit forward and backward passes on batch-major float32
 * activations (batch x dim, row-major).
 *
 * Buffers: `forward` and `backward` return internal buffers valid until the
 * next call of the same method. The layer keeps references to its input for
 * backward, so an input must stay unchanged until the matching backward.
 */
export interface Layer {
  readonly inDim: number;
  readonly outDim: number;
  /** y (batch x outDim) from x (batch x inDim); `training` enables dropout. */
  forward(x: Float32Array, batch: number, training: boolean): Float32Array;
  /** dx (batch x inDim) from dy (batch x outDim) of the last forward; overwrites the parameters' grads. */
  backward(dy: Float32Array, batch: number): Float32Array;
  params(): Param[];
  /** Layers with randomness (dropout) restart their streams from this seed. */
  reseed?(seed: number): void;
}
