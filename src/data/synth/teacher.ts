/**
 * The ground truth: a field-weighted factorization machine over the
 * informative fields,
 *
 *   logit = bias + sum_f w_f[x_f] + sum_{(f,g) in pairs} a_fg <e_f[x_f], e_g[x_g]>,
 *
 * where x_f is the value's key (its rank; for integer fields its Criteo
 * bucket). Only informative keys have a weight and an embedding; every other
 * key and every noise field contributes exactly zero, so a perfectly sparse
 * model keeps exactly the informative (field, value) pairs.
 *
 * Informative keys of a field: key < K_f and (key = 0 or a seeded hash of
 * (field, key) falls below `keep`). A random half of the frequent values, not
 * simply the most frequent ones: a useless feature can be frequent too, which
 * is what makes deleting it a real test. All parameters are Gaussian draws of
 * counter-based hashes, so they cost no state beyond K_f * (dim + 1) numbers.
 */
import { criteoBucket } from "../formats/bucket.js";
import { gauss, STREAM, streamPrefix, unit32, word } from "./hash.js";
import type { FieldSpec, TeacherSpec } from "./types.js";

/** Criteo buckets of 0..65535 (the function has a logarithm; most values are small). */
const BUCKETS = Uint16Array.from({ length: 65536 }, (_, v) => criteoBucket(v));

/** The Criteo bucket of a non-negative integer, by table when small. */
export function bucketOf(v: number): number {
  return v < 65536 ? BUCKETS[v] : criteoBucket(v);
}

/** The number of candidate informative keys of a field (ranks, or buckets of an integer field). */
export function candidateKeys(spec: FieldSpec, teacher: TeacherSpec): number {
  if (spec.kind === "integer") return criteoBucket(Math.max(0, spec.vocab - 1)) + 1;
  return Math.min(spec.vocab, teacher.informativeRanks);
}

/** Whether key is informative in informative field `field` (position in the config) under a seed key. */
export function keyIsInformative(seed: number, field: number, key: number, candidates: number, keep: number): boolean {
  if (!(key >= 0 && key < candidates)) return false;
  return key === 0 || unit32(streamPrefix(seed, field, STREAM.informative), key) < keep;
}

export class Teacher {
  /** Config position of each teacher field. */
  readonly fieldOf: Int32Array;
  /** Candidate keys of each teacher field. */
  readonly candidates: Int32Array;
  /** Interacting pairs (teacher field positions) and their weights. */
  readonly pairA: Int32Array;
  readonly pairB: Int32Array;
  readonly pairW: Float64Array;
  readonly dim: number;
  /** Row stride of the embeddings: dim rounded up to 4 (zero padding), for the unrolled dot product. */
  private readonly stride: number;
  /** Added to every logit; set by calibration. */
  bias = 0;
  private readonly bucketed: Uint8Array;
  private readonly offset: Int32Array;
  private readonly informative: Uint8Array;
  private readonly weight: Float64Array;
  private readonly emb: Float64Array;
  private readonly keys: Int32Array;
  private readonly zeroRow: number;

  constructor(fields: readonly FieldSpec[], spec: TeacherSpec, seed: number) {
    const pos = fields.flatMap((f, i) => (f.informative ? [i] : []));
    const m = pos.length, dim = spec.dim;
    this.dim = dim;
    this.stride = (dim + 3) & ~3;
    this.fieldOf = Int32Array.from(pos);
    this.candidates = Int32Array.from(pos, (i) => candidateKeys(fields[i], spec));
    this.bucketed = Uint8Array.from(pos, (i) => (fields[i].kind === "integer" ? 1 : 0));
    this.offset = new Int32Array(m + 1);
    for (let t = 0; t < m; t++) this.offset[t + 1] = this.offset[t] + this.candidates[t];
    const total = this.offset[m];
    this.informative = new Uint8Array(total);
    this.weight = new Float64Array(total);
    // One extra all-zero row: absent keys point at it, so the pair loop needs no branch.
    this.zeroRow = total;
    this.emb = new Float64Array((total + 1) * this.stride);
    this.keys = new Int32Array(m);

    // Pairs first: the linear scale divides the variance by the field count,
    // the pair scale by the pair count, so `signal` means the same for any m.
    const pp = streamPrefix(seed, 0, STREAM.pairs);
    const a: number[] = [], b: number[] = [], w: number[] = [];
    for (let t = 0; t < m; t++) {
      for (let u = t + 1; u < m; u++) {
        const slot = (pos[t] * 4096 + pos[u]) * 8;
        if (word(pp, slot) / 2 ** 32 < spec.pairDensity) { a.push(t); b.push(u); w.push(gauss(pp, slot + 2)); }
      }
    }
    const sdLinear = m > 0 ? spec.signal * Math.sqrt(spec.linearShare / m) : 0;
    const sdPair = a.length > 0 ? spec.signal * Math.sqrt((1 - spec.linearShare) / a.length) : 0;
    this.pairA = Int32Array.from(a);
    this.pairB = Int32Array.from(b);
    this.pairW = Float64Array.from(w, (x) => x * sdPair);

    // Embedding components with std dim^-1/4 give dot products of variance 1.
    const sdEmb = Math.pow(dim, -0.25);
    const stride = 4 * (dim + 1);
    for (let t = 0; t < m; t++) {
      const f = pos[t], tp = streamPrefix(seed, f, STREAM.teacher);
      for (let key = 0; key < this.candidates[t]; key++) {
        if (!keyIsInformative(seed, f, key, this.candidates[t], spec.keep)) continue;
        const o = this.offset[t] + key;
        this.informative[o] = 1;
        this.weight[o] = sdLinear * gauss(tp, key * stride);
        for (let c = 0; c < dim; c++) this.emb[o * this.stride + c] = sdEmb * gauss(tp, key * stride + 4 * (c + 1));
      }
    }
  }

  /** Number of teacher (informative) fields. */
  get size(): number {
    return this.fieldOf.length;
  }

  /** Informative keys of teacher field t. */
  informativeKeys(t: number): number[] {
    const out: number[] = [];
    for (let k = 0; k < this.candidates[t]; k++) if (this.informative[this.offset[t] + k]) out.push(k);
    return out;
  }

  /** The logit without the bias, from the ranks of all fields (-1 = missing). */
  score(ranks: Int32Array): number {
    const m = this.fieldOf.length, keys = this.keys;
    let z = 0;
    for (let t = 0; t < m; t++) {
      let r = ranks[this.fieldOf[t]];
      let key = this.zeroRow;
      if (r >= 0) {
        if (this.bucketed[t] === 1) r = bucketOf(r);
        const o = this.offset[t] + r;
        if (r < this.candidates[t] && this.informative[o] === 1) {
          key = o;
          z += this.weight[o];
        }
      }
      keys[t] = key;
    }
    // Four products per step: V8 does not vectorise, and one accumulator
    // would serialise every multiply-add on its latency.
    const st = this.stride, emb = this.emb, pa = this.pairA, pb = this.pairB, pw = this.pairW;
    for (let p = 0; p < pa.length; p++) {
      let oa = keys[pa[p]] * st, ob = keys[pb[p]] * st;
      let dot = 0;
      for (let c = 0; c < st; c += 4, oa += 4, ob += 4) {
        dot += emb[oa] * emb[ob] + emb[oa + 1] * emb[ob + 1] + emb[oa + 2] * emb[ob + 2] + emb[oa + 3] * emb[ob + 3];
      }
      z += pw[p] * dot;
    }
    return z;
  }
}

/**
 * The bias b with mean(sigmoid(b + z)) = target over a sample of scores z:
 * Newton's method inside a bisection bracket (the mean is increasing in b).
 */
export function calibrateBias(z: Float64Array, target: number): number {
  const mean = (b: number): [number, number] => {
    let s = 0, d = 0;
    for (let i = 0; i < z.length; i++) {
      const p = 1 / (1 + Math.exp(-(b + z[i])));
      s += p;
      d += p * (1 - p);
    }
    return [s / z.length - target, d / z.length];
  };
  let lo = -60, hi = 60;
  let b = Math.log(target / (1 - target));
  for (let it = 0; it < 100; it++) {
    const [f, d] = mean(b);
    if (f > 0) hi = b; else lo = b;
    if (Math.abs(f) < 1e-12 * target || hi - lo < 1e-12) break;
    const next = b - f / d;
    b = next > lo && next < hi && Number.isFinite(next) ? next : (lo + hi) / 2;
  }
  return b;
}
