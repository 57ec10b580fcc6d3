/**
 * Embedding bags: the pooling of several value-weighted embedding rows into
 * one slot (a multi-valued field of a row, e.g. its tags), and its backward.
 * Slot s holds entries offsets[s] .. offsets[s + 1] - 1; entry e is an
 * embedding row of d floats scaled by values[e]:
 *
 *   sum:  out_s = sum_e values[e] * x_e
 *   mean: out_s = (1 / count_s) * sum_e values[e] * x_e
 *
 * (torch.nn.EmbeddingBag with per_sample_weights; FuxiCTR's sequence
 * pooling). The backward is the transpose: d x_e = values[e] * d out_s,
 * divided by count_s for mean. A slot without entries pools to zeros.
 */
export type Pooling = "mean" | "sum";

/** The pooling modes, in the order --help lists them. */
export const POOLINGS: readonly Pooling[] = ["mean", "sum"];
export function isPooling(v: unknown): v is Pooling {
  return POOLINGS.some((p) => p === v);
}

/** The factor of entry e of a slot of `count` entries. */
function scale(mode: Pooling, value: number, count: number): number {
  return mode === "mean" ? value / count : value;
}

/** Pools entries (E x d floats) into slots (offsets.length - 1 slots of d floats, into out). */
export function poolBags(entries: Float32Array, d: number, offsets: Uint32Array, values: Float32Array, mode: Pooling, out: Float32Array): Float32Array {
  const slots = offsets.length - 1;
  if (out.length < slots * d) throw new RangeError(`poolBags: output has ${out.length} floats, ${slots} slots of ${d} need ${slots * d}`);
  if (entries.length < offsets[slots] * d) throw new RangeError(`poolBags: ${entries.length} floats for ${offsets[slots]} entries of ${d}`);
  out.fill(0, 0, slots * d);
  for (let s = 0; s < slots; s++) {
    const a = offsets[s], b = offsets[s + 1], o = s * d;
    for (let e = a; e < b; e++) {
      const f = Math.fround(scale(mode, values[e], b - a)), x = e * d;
      for (let j = 0; j < d; j++) out[o + j] += f * entries[x + j];
    }
  }
  return out;
}

/** The backward of {@link poolBags}: the gradient of every entry (E x d floats, into out) from the slots'. */
export function unpoolBags(dSlots: Float32Array, d: number, offsets: Uint32Array, values: Float32Array, mode: Pooling, out: Float32Array): Float32Array {
  const slots = offsets.length - 1, n = offsets[slots];
  if (out.length < n * d) throw new RangeError(`unpoolBags: output has ${out.length} floats, ${n} entries of ${d} need ${n * d}`);
  for (let s = 0; s < slots; s++) {
    const a = offsets[s], b = offsets[s + 1], o = s * d;
    for (let e = a; e < b; e++) {
      const f = Math.fround(scale(mode, values[e], b - a)), x = e * d;
      for (let j = 0; j < d; j++) out[x + j] = f * dSlots[o + j];
    }
  }
  return out;
}

/** The field (slot % fields) of every entry, into out when it is long enough. */
export function bagFields(offsets: Uint32Array, fields: number, out?: Int32Array): Int32Array {
  const slots = offsets.length - 1, n = offsets[slots];
  const f = out !== undefined && out.length >= n ? out : new Int32Array(n);
  for (let s = 0; s < slots; s++) f.fill(s % fields, offsets[s], offsets[s + 1]);
  return f;
}
