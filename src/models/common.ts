import type { Layer } from "../nn/layer.js";
import type { Param, ParamFactory } from "../nn/param.js";
import { Linear } from "../nn/linear.js";
import { LinearRelu } from "../nn/linear-relu.js";
import { Dropout } from "../nn/dropout.js";
import { checkBatch, checkInput } from "../nn/scratch.js";
import type { Model, ModelInput, ModelName, ResolvedModelConfig } from "./types.js";
import type { Sequential } from "../nn/sequential.js";

/** Dropout after a hidden layer, when rate > 0. */
export function dropoutAfter(name: string, dim: number, dropout: number, seed: number): Layer[] {
  return dropout > 0 ? [new Dropout(dim, dropout, seed, `${name}.dropout`)] : [];
}

/**
 * Hidden layers `${prefix}.0`, `${prefix}.1`, ...: He-uniform linear + ReLU
 * (one fused LinearRelu layer; + dropout) each. Returns the layers and the last width.
 */
export function tower(
  prefix: string, inDim: number, sizes: readonly number[], dropout: number, seed: number, factory?: ParamFactory,
): { layers: Layer[]; outDim: number } {
  const layers: Layer[] = [];
  let d = inDim;
  sizes.forEach((h, i) => {
    const name = `${prefix}.${i}`;
    layers.push(new LinearRelu({ name, inDim: d, outDim: h, seed, params: factory }));
    layers.push(...dropoutAfter(name, h, dropout, seed));
    d = h;
  });
  return { layers, outDim: d };
}

/** The logit layer: Glorot-uniform (no ReLU follows), named "out". */
export function outputLayer(inDim: number, seed: number, factory?: ParamFactory, bias = true): Linear {
  return new Linear({ name: "out", inDim, outDim: 1, bias, init: "glorot", seed, params: factory });
}

/** Checks a model's inputs against its declared tables. */
export function checkModelInputs(name: string, specs: readonly ModelInput[], inputs: readonly Float32Array[], batch: number): void {
  checkBatch(name, batch);
  if (!Array.isArray(inputs) || inputs.length !== specs.length) {
    throw new RangeError(`${name}: expected ${specs.length} input array(s), got ${Array.isArray(inputs) ? inputs.length : typeof inputs}`);
  }
  specs.forEach((s, i) => checkInput(`${name} input ${i}`, inputs[i], batch * s.fields * s.rowLength));
}

/**
 * A model that is one stack of layers over one embedding table (mlp, opnn):
 * the flattened embeddings in, the logit out.
 */
export abstract class SequentialModel implements Model {
  abstract readonly name: ModelName;
  readonly inputs: readonly ModelInput[];

  protected constructor(readonly config: ResolvedModelConfig, private readonly net: Sequential) {
    this.inputs = [{ fields: config.fields, rowLength: config.embedding }];
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
