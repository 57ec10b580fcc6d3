import type { Tensor } from "@tensorflow/tfjs-core";

/**
 * How a 1-D variable (a bias) is grouped for the l21 penalty: `"elements"`,
 * each element its own group of one (the default), or `"group"`, the whole
 * vector one group.
 */
export type VectorGroups = "elements" | "group";

/**
 * The groups of a variable as [rows, rowLength]: each row is one group of the
 * l21 penalty. A 2-D variable keeps its shape, so for a Dense kernel
 * [inputUnits, units] row i holds the outgoing weights of input unit i and a
 * zero row removes input feature i. Higher ranks are read as
 * [shape[0], product of the rest]; a scalar is one group of one.
 */
export function groupShape(shape: readonly number[], vectors: VectorGroups): [number, number] {
  if (shape.length === 0) return [1, 1];
  if (shape.length === 1) return vectors === "group" ? [1, shape[0]] : [shape[0], 1];
  let d = 1;
  for (let i = 1; i < shape.length; i++) d *= shape[i];
  return [shape[0], d];
}

/**
 * Indices of the groups (rows, see `groupShape`) of `x` whose entries are all
 * exactly 0: the input features a group optimizer has removed. Reads the
 * tensor's values synchronously (`dataSync`).
 */
export function zeroGroups(x: Tensor, vectors: VectorGroups = "elements"): number[] {
  const [rows, d] = groupShape(x.shape, vectors);
  const v = x.dataSync();
  const out: number[] = [];
  for (let r = 0; r < rows; r++) {
    let zero = true;
    for (let j = 0; j < d && zero; j++) zero = v[r * d + j] === 0;
    if (zero) out.push(r);
  }
  return out;
}
