import type { ParamFactory } from "../nn/param.js";
import { Sequential } from "../nn/sequential.js";
import { OuterProductLayer } from "../nn/product.js";
import { dropoutAfter, outputLayer, SequentialModel, tower } from "./common.js";
import type { ResolvedModelConfig } from "./types.js";

/**
 * Outer-product PNN (Qu et al. 2016) as the peer script: the product layer
 * (linear part on the flattened embeddings plus the sum-pooled outer product,
 * width hidden[0], with its ReLU) is the first hidden layer, then hidden[1..]
 * fully connected; ReLU and dropout after each; a linear logit.
 * Parameters: product.z.weight/bias, product.p.weight, deep.i.weight/bias
 * (for hidden[i + 1]), out.weight/bias.
 */
export class OpnnModel extends SequentialModel {
  readonly name = "opnn";

  constructor(config: ResolvedModelConfig, factory?: ParamFactory) {
    const { fields, embedding, hidden, dropout, seed } = config;
    const product = new OuterProductLayer("product", fields, embedding, hidden[0], seed, factory);
    const t = tower("deep", hidden[0], hidden.slice(1), dropout, seed, factory);
    super(config, new Sequential([
      product, ...dropoutAfter("product", hidden[0], dropout, seed), ...t.layers, outputLayer(t.outDim, seed, factory),
    ]));
  }
}
