import type { Param, ParamFactory } from "../nn/param.js";
import { Sequential } from "../nn/sequential.js";
import { OuterProductLayer } from "../nn/product.js";
import { activation, checkModelInputs, outputLayer, tower } from "./common.js";
import type { Model, ModelInput, ResolvedModelConfig } from "./types.js";

/**
 * Outer-product PNN (Qu et al. 2016) as the peer script: the product layer
 * (linear part on the flattened embeddings plus the sum-pooled outer product,
 * width hidden[0]) is the first hidden layer, then hidden[1..] fully
 * connected; ReLU and dropout after each; a linear logit.
 * Parameters: product.z.weight/bias, product.p.weight, deep.i.weight/bias
 * (for hidden[i + 1]), out.weight/bias.
 */
export class OpnnModel implements Model {
  readonly name = "opnn";
  readonly inputs: readonly ModelInput[];
  private readonly net: Sequential;

  constructor(readonly config: ResolvedModelConfig, factory?: ParamFactory) {
    const { fields, embedding, hidden, dropout, seed } = config;
    this.inputs = [{ fields, rowLength: embedding }];
    const product = new OuterProductLayer("product", fields, embedding, hidden[0], seed, factory);
    const t = tower("deep", hidden[0], hidden.slice(1), dropout, seed, factory);
    this.net = new Sequential([
      product, ...activation("product", hidden[0], dropout, seed), ...t.layers, outputLayer(t.outDim, seed, factory),
    ]);
  }

  forward(inputs: readonly Float32Array[], batch: number, training: boolean): Float32Array {
    checkModelInputs(this.name, this.inputs, inputs, batch);
    return this.net.forward(inputs[0], batch, training);
  }

  backward(dlogits: Float32Array, batch: number): Float32Array[] {
    return [this.net.backward(dlogits, batch)];
  }

  params(): Param[] {
    return this.net.params();
  }

  reseed(seed: number): void {
    this.net.reseed(seed);
  }
}
