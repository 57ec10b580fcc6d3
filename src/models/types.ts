import type { Param, ParamFactory } from "../nn/param.js";

/** Names of the model architectures. */
export type ModelName = "mlp" | "opnn" | "dcn" | "lr" | "deepfm";

/**
 * Architecture settings. `fields` (the number of categorical fields of the
 * data) is required; the rest default to the model's preset
 * ({@link MODEL_PRESETS}). A setting that does not apply to the model (e.g.
 * `crossLayers` for `mlp`, anything but `seed` for `lr`) is an error, which
 * also catches misspelt keys.
 */
export interface ModelConfig {
  fields: number;
  /** Embedding size d (rowLength of the embedding table). */
  embedding?: number;
  /** Hidden layer sizes of the deep part, input side first. */
  hidden?: readonly number[];
  /** Dropout rate after every hidden layer's ReLU, in [0, 1). */
  dropout?: number;
  /** Number of DCN cross layers. */
  crossLayers?: number;
  /** Seed of the initial values and dropout masks, an integer in [0, 2^32). Default 0. */
  seed?: number;
}

/** A configuration with every setting filled in (neutral values where a setting does not apply). */
export interface ResolvedModelConfig {
  readonly fields: number;
  readonly embedding: number;
  readonly hidden: readonly number[];
  readonly dropout: number;
  readonly crossLayers: number;
  readonly seed: number;
}

/** Options of {@link createModel}. */
export interface ModelOptions {
  /** Provides each parameter's memory (e.g. inside an optimizer); default: the initial array. */
  params?: ParamFactory;
}

/** One embedding table a model reads: `fields` rows of `rowLength` floats per sample. */
export interface ModelInput {
  readonly fields: number;
  readonly rowLength: number;
}

/**
 * A CTR model on embeddings gathered outside it: input i is batch x
 * inputs[i].fields x inputs[i].rowLength floats, row-major by sample, then
 * field. Returned arrays are internal buffers valid until the next call of the
 * same method; inputs must stay unchanged between forward and its backward.
 */
export interface Model {
  readonly name: ModelName;
  readonly config: ResolvedModelConfig;
  readonly inputs: readonly ModelInput[];
  /** Logits, one per sample; `training` enables dropout. */
  forward(inputs: readonly Float32Array[], batch: number, training: boolean): Float32Array;
  /**
   * From d(loss)/d(logits) of the last forward, overwrites every parameter's
   * grad and returns d(loss)/d(input i) for each input (same shapes as the inputs).
   */
  backward(dlogits: Float32Array, batch: number): Float32Array[];
  /** All trainable parameters, in a fixed order, names unique. */
  params(): Param[];
  /** Restarts the dropout mask streams from a seed (as a fresh model with that seed would). */
  reseed(seed: number): void;
}
