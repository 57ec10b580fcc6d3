import { createParam, defaultParamFactory, type Param, type ParamFactory } from "../nn/param.js";
import { Scratch, checkBackward } from "../nn/scratch.js";
import { checkModelInputs } from "./common.js";
import type { Model, ModelInput, ResolvedModelConfig } from "./types.js";

/**
 * Logistic regression on the same features: the input is a rowLength-1 table
 * (one weight per feature, which is where the weights live), and
 * logit = sum of the fields' weights + bias. The only dense parameter is
 * "bias" (1 x 1, starting at 0).
 */
export class LrModel implements Model {
  readonly name = "lr";
  readonly inputs: readonly ModelInput[];
  readonly bias: Param;
  private batch = 0;
  private readonly y = new Scratch();
  private readonly dx = new Scratch();

  constructor(readonly config: ResolvedModelConfig, factory: ParamFactory = defaultParamFactory) {
    this.inputs = [{ fields: config.fields, rowLength: 1 }];
    this.bias = createParam(factory, "bias", 1, 1, new Float32Array(1));
  }

  forward(inputs: readonly Float32Array[], batch: number, _training: boolean): Float32Array {
    checkModelInputs(this.name, this.inputs, inputs, batch);
    const F = this.config.fields, w = inputs[0], y = this.y.take(batch), b = this.bias.value[0];
    for (let r = 0; r < batch; r++) {
      let s = b;
      for (let i = 0; i < F; i++) s += w[r * F + i];
      y[r] = s;
    }
    this.batch = batch;
    return y;
  }

  backward(dlogits: Float32Array, batch: number): Float32Array[] {
    checkBackward(this.name, this.batch, batch);
    const F = this.config.fields, dx = this.dx.take(batch * F);
    let db = 0;
    for (let r = 0; r < batch; r++) {
      const g = dlogits[r];
      db += g;
      dx.fill(g, r * F, r * F + F);
    }
    this.bias.grad[0] = db;
    return [dx];
  }

  params(): Param[] {
    return [this.bias];
  }

  reseed(_seed: number): void {
    // No randomness after initialisation.
  }
}
