import type { Layer } from "./layer.js";
import type { Param } from "./param.js";

/** Layers applied in order; each layer's outDim must equal the next one's inDim. */
export class Sequential implements Layer {
  readonly inDim: number;
  readonly outDim: number;
  readonly layers: readonly Layer[];

  constructor(layers: Layer[]) {
    if (layers.length === 0) throw new RangeError("Sequential: needs at least one layer");
    for (let i = 1; i < layers.length; i++) {
      if (layers[i].inDim !== layers[i - 1].outDim) {
        throw new RangeError(`Sequential: layer ${i} takes ${layers[i].inDim} inputs but layer ${i - 1} gives ${layers[i - 1].outDim}`);
      }
    }
    this.layers = layers.slice();
    this.inDim = layers[0].inDim;
    this.outDim = layers[layers.length - 1].outDim;
  }

  forward(x: Float32Array, batch: number, training: boolean): Float32Array {
    let h = x;
    for (const l of this.layers) h = l.forward(h, batch, training);
    return h;
  }

  backward(dy: Float32Array, batch: number): Float32Array {
    let g = dy;
    for (let i = this.layers.length - 1; i >= 0; i--) g = this.layers[i].backward(g, batch);
    return g;
  }

  params(): Param[] {
    return this.layers.flatMap((l) => l.params());
  }

  reseed(seed: number): void {
    for (const l of this.layers) l.reseed?.(seed);
  }
}
