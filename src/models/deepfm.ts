import { createParam, defaultParamFactory, type Param, type ParamFactory } from "../nn/param.js";
import { Sequential } from "../nn/sequential.js";
import { FmLayer } from "../nn/fm.js";
import { Scratch, checkBackward } from "../nn/scratch.js";
import { checkModelInputs, outputLayer, tower } from "./common.js";
import type { Model, ModelInput, ResolvedModelConfig } from "./types.js";

/**
 * DeepFM (Guo et al. 2017): logit = first-order term + FM second-order term +
 * DNN, the FM and the DNN sharing one embedding table.
 * Inputs: [0] the first-order table (rowLength 1), [1] the embeddings (rowLength d).
 * - first order: sum of the fields' weights + "bias" (1 x 1);
 * - second order: {@link FmLayer} on the embeddings (no parameters);
 * - DNN: deep.i ReLU layers (+ dropout) on the flattened embeddings, then
 *   out.weight without a bias (the first-order bias already is the model's one).
 */
export class DeepFmModel implements Model {
  readonly name = "deepfm";
  readonly inputs: readonly ModelInput[];
  readonly bias: Param;
  private readonly fm: FmLayer;
  private readonly dnn: Sequential;
  private batch = 0;
  private readonly y = new Scratch();
  private readonly dFirst = new Scratch();
  private readonly dEmb = new Scratch();

  constructor(readonly config: ResolvedModelConfig, factory: ParamFactory = defaultParamFactory) {
    const { fields, embedding, hidden, dropout, seed } = config;
    this.inputs = [{ fields, rowLength: 1 }, { fields, rowLength: embedding }];
    this.bias = createParam(factory, "bias", 1, 1, new Float32Array(1));
    this.fm = new FmLayer(fields, embedding);
    const t = tower("deep", fields * embedding, hidden, dropout, seed, factory);
    this.dnn = new Sequential([...t.layers, outputLayer(t.outDim, seed, factory, false)]);
  }

  forward(inputs: readonly Float32Array[], batch: number, training: boolean): Float32Array {
    checkModelInputs(this.name, this.inputs, inputs, batch);
    const F = this.config.fields, w = inputs[0], b = this.bias.value[0];
    const second = this.fm.forward(inputs[1], batch, training);
    const deep = this.dnn.forward(inputs[1], batch, training);
    const y = this.y.take(batch);
    for (let r = 0; r < batch; r++) {
      let s = b;
      for (let i = 0; i < F; i++) s += w[r * F + i];
      y[r] = s + second[r] + deep[r];
    }
    this.batch = batch;
    return y;
  }

  backward(dlogits: Float32Array, batch: number): Float32Array[] {
    checkBackward(this.name, this.batch, batch);
    const F = this.config.fields, d1 = this.dFirst.take(batch * F);
    let db = 0;
    for (let r = 0; r < batch; r++) {
      db += dlogits[r];
      d1.fill(dlogits[r], r * F, r * F + F);
    }
    this.bias.grad[0] = db;
    const g1 = this.fm.backward(dlogits, batch), g2 = this.dnn.backward(dlogits, batch);
    const n = batch * this.fm.inDim, de = this.dEmb.take(n);
    for (let i = 0; i < n; i++) de[i] = g1[i] + g2[i];
    return [d1, de];
  }

  params(): Param[] {
    return [this.bias, ...this.dnn.params()];
  }

  reseed(seed: number): void {
    this.dnn.reseed(seed);
  }
}
