/** The logistic link and the binary log loss on logits. */

/** 1 / (1 + exp(-z)) without overflow for large |z|. */
export function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

/**
 * Mean log loss of `batch` logits against labels in [0, 1] (soft labels
 * allowed), from logits rather than probabilities so that it stays exact for
 * large |z|: loss = max(z, 0) - z y + log1p(exp(-|z|)).
 * When `dlogits` is given, writes d(mean loss)/d(z_i) = (sigmoid(z_i) - y_i) / batch.
 */
export function sigmoidLogLoss(
  logits: Float32Array, labels: ArrayLike<number>, batch: number, dlogits?: Float32Array,
): number {
  if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`sigmoidLogLoss: batch must be a positive integer, got ${batch}`);
  if (logits.length < batch || labels.length < batch) {
    throw new RangeError(`sigmoidLogLoss: need ${batch} logits and labels, got ${logits.length} and ${labels.length}`);
  }
  if (dlogits && dlogits.length < batch) throw new RangeError(`sigmoidLogLoss: dlogits holds ${dlogits.length} floats, need ${batch}`);
  let total = 0;
  for (let i = 0; i < batch; i++) {
    const z = logits[i], y = labels[i];
    if (!(y >= 0 && y <= 1)) throw new RangeError(`sigmoidLogLoss: label ${i} is ${y}, expected a value in [0, 1]`);
    total += Math.max(z, 0) - z * y + Math.log1p(Math.exp(-Math.abs(z)));
    if (dlogits) dlogits[i] = (sigmoid(z) - y) / batch;
  }
  return total / batch;
}
