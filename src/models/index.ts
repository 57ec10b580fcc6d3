/**
 * CTR model architectures composed from the layers of src/nn, and the
 * paper's presets.
 * @packageDocumentation
 */
import type { ParamFactory } from "../nn/param.js";
import { resolveConfig } from "./config.js";
import { MlpModel } from "./mlp.js";
import { OpnnModel } from "./opnn.js";
import { DcnModel } from "./dcn.js";
import { LrModel } from "./lr.js";
import { DeepFmModel } from "./deepfm.js";
import type { Model, ModelConfig, ModelName, ModelOptions, ResolvedModelConfig } from "./types.js";

export type { Model, ModelConfig, ModelInput, ModelName, ModelOptions, ResolvedModelConfig } from "./types.js";
export { MODEL_PRESETS } from "./presets.js";
export { MlpModel, OpnnModel, DcnModel, LrModel, DeepFmModel };

const BUILDERS: Record<ModelName, (c: ResolvedModelConfig, f?: ParamFactory) => Model> = {
  mlp: (c, f) => new MlpModel(c, f),
  opnn: (c, f) => new OpnnModel(c, f),
  dcn: (c, f) => new DcnModel(c, f),
  lr: (c, f) => new LrModel(c, f),
  deepfm: (c, f) => new DeepFmModel(c, f),
};

/** The model names accepted by {@link createModel}. */
export const MODEL_NAMES: readonly ModelName[] = Object.freeze(Object.keys(BUILDERS) as ModelName[]);

/** True when `name` is one of {@link MODEL_NAMES}. */
export function isModelName(name: string): name is ModelName {
  return Object.prototype.hasOwnProperty.call(BUILDERS, name);
}

/**
 * Builds a model: `config` overrides the model's preset (`fields` is
 * required), and `opts.params` places each parameter's memory (e.g. in an
 * optimizer). The same name, config and seed give the same model bit for bit.
 */
export function createModel(name: ModelName, config: ModelConfig, opts: ModelOptions = {}): Model {
  if (!isModelName(name)) throw new RangeError(`unknown model "${String(name)}" (models: ${MODEL_NAMES.join(", ")})`);
  return createResolvedModel(name, resolveConfig(name, config), opts);
}

/** {@link createModel} from a configuration resolveConfig returned (a stored model's, checked). */
export function createResolvedModel(name: ModelName, config: ResolvedModelConfig, opts: ModelOptions = {}): Model {
  if (!isModelName(name)) throw new RangeError(`unknown model "${String(name)}" (models: ${MODEL_NAMES.join(", ")})`);
  return BUILDERS[name](config, opts.params);
}
