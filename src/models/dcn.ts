import type { Param, ParamFactory } from "../nn/param.js";
import type { Linear } from "../nn/linear.js";
import { Sequential } from "../nn/sequential.js";
import { CrossNet } from "../nn/cross.js";
import { checkModelInputs, outputLayer, tower } from "./common.js";
import type { Model, ModelInput, ResolvedModelConfig } from "./types.js";

/**
 * Deep & Cross Network v1 (Wang et al. 2017) as the peer script: x0 = the
 * flattened embeddings (n = fields x d); a cross network of crossLayers layers
 * on x0 and a ReLU deep part (64-64) on x0 run side by side; the logit is a
 * linear map of concat(cross output, deep output).
 * Parameters: cross.l.w/b, deep.i.weight/bias, out.weight [n + last hidden, 1]/bias.
 */
export class DcnModel implements Model {
  readonly name = "dcn";
  readonly inputs: readonly ModelInput[];
  private readonly cross: CrossNet;
  private readonly deep: Sequential;
  private readonly out: Linear;
  private readonly n: number;
  private readonly h: number;

  constructor(readonly config: ResolvedModelConfig, factory?: ParamFactory) {
    const { fields, embedding, hidden, dropout, crossLayers, seed } = config;
    this.inputs = [{ fields, rowLength: embedding }];
    this.n = fields * embedding;
    this.cross = new CrossNet("cross", this.n, crossLayers, seed, factory);
    const t = tower("deep", this.n, hidden, dropout, seed, factory);
    this.deep = new Sequential(t.layers);
    this.h = t.outDim;
    this.out = outputLayer(this.n + this.h, seed, factory);
  }

  forward(inputs: readonly Float32Array[], batch: number, training: boolean): Float32Array {
    checkModelInputs(this.name, this.inputs, inputs, batch);
    const x0 = inputs[0];
    const xc = this.cross.forward(x0, batch, training);
    const xd = this.deep.forward(x0, batch, training);
    return this.out.forwardPair(xc, this.n, xd, batch);
  }

  backward(dlogits: Float32Array, batch: number): Float32Array[] {
    const [dc, dd] = this.out.backwardPair(dlogits, batch);
    // The cross network adds the deep part's gradient of x0 to its own (in kernel memory).
    return [this.cross.backward(dc, batch, this.deep.backward(dd, batch))];
  }

  params(): Param[] {
    return [...this.cross.params(), ...this.deep.params(), ...this.out.params()];
  }

  reseed(seed: number): void {
    this.deep.reseed(seed);
  }
}
