import type { ParamFactory } from "../nn/param.js";
import { Sequential } from "../nn/sequential.js";
import { outputLayer, SequentialModel, tower } from "./common.js";
import type { ResolvedModelConfig } from "./types.js";

/**
 * The paper's Avazu model: the flattened embeddings (fields x d) through
 * fully connected ReLU layers (64-32-16 by default) and a linear logit.
 * Parameters: deep.i.weight/bias, out.weight/bias.
 */
export class MlpModel extends SequentialModel {
  readonly name = "mlp";

  constructor(config: ResolvedModelConfig, factory?: ParamFactory) {
    const { fields, embedding, hidden, dropout, seed } = config;
    const t = tower("deep", fields * embedding, hidden, dropout, seed, factory);
    super(config, new Sequential([...t.layers, outputLayer(t.outDim, seed, factory)]));
  }
}
