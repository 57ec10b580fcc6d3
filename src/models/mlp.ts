import type { Param, ParamFactory } from "../nn/param.js";
import { Sequential } from "../nn/sequential.js";
import { checkModelInputs, outputLayer, tower } from "./common.js";
import type { Model, ModelInput, ResolvedModelConfig } from "./types.js";

/**
 * The paper's Avazu model: the flattened embeddings (fields x d) through
 * fully connected ReLU layers (64-32-16 by default) and a linear logit.
 * Parameters: deep.i.weight/bias, out.weight/bias.
 */
export class MlpModel implements Model {
  readonly name = "mlp";
  readonly inputs: readonly ModelInput[];
  private readonly net: Sequential;

  constructor(readonly config: ResolvedModelConfig, factory?: ParamFactory) {
    const { fields, embedding, hidden, dropout, seed } = config;
    this.inputs = [{ fields, rowLength: embedding }];
    const t = tower("deep", fields * embedding, hidden, dropout, seed, factory);
    this.net = new Sequential([...t.layers, outputLayer(t.outDim, seed, factory)]);
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
