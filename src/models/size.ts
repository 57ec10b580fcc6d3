/** The size of a model configuration without building it. */
import type { ModelName, ResolvedModelConfig } from "./types.js";

/**
 * The number of parameter values (dense weights and biases) a model of this
 * configuration has, computed without building it: loaders compare it with
 * the values a file holds before a hostile config makes the model allocate
 * gigabytes. (A lower bound by construction: it counts the layers of
 * src/models; a model with more parameters passes it.)
 */
export function minParamValues(name: ModelName, c: ResolvedModelConfig): number {
  const linear = (i: number, o: number, bias = true): number => i * o + (bias ? o : 0);
  const tower = (inDim: number, sizes: readonly number[]): [number, number] => {
    let n = 0, d = inDim;
    for (const h of sizes) { n += linear(d, h); d = h; }
    return [n, d];
  };
  const x = c.fields * c.embedding;
  switch (name) {
    case "lr": return 1;
    case "mlp": { const [n, d] = tower(x, c.hidden); return n + linear(d, 1); }
    case "deepfm": { const [n, d] = tower(x, c.hidden); return 1 + n + linear(d, 1, false); }
    case "opnn": {
      const h0 = c.hidden[0] ?? 1, [n, d] = tower(h0, c.hidden.slice(1));
      return linear(x, h0) + linear(c.embedding * c.embedding, h0, false) + n + linear(d, 1);
    }
    case "dcn": { const [n, d] = tower(x, c.hidden); return c.crossLayers * 2 * x + n + linear(x + d, 1); }
  }
}
