/**
 * The ground truth written beside a generated file (`<out>.truth.json`): which
 * fields and values are informative, the teacher, and the Bayes-optimal
 * metrics of exactly the rows written (the true probability as the score).
 */
import { criteoBucket } from "../formats/bucket.js";
import { CompensatedSum, LoglossAccumulator } from "../../metrics/index.js";
import { HourClock } from "./clock.js";
import { checkConfig } from "./config.js";
import { Drift, idExtent } from "./drift.js";
import { seedKey } from "./hash.js";
import type { Generator } from "./generator.js";
import { candidateKeys, keyIsInformative } from "./teacher.js";
import type { SynthConfig, SynthFormat } from "./types.js";
import { FieldCodec } from "./values.js";

/** Exact AUC needs every (probability, label) pair: 4 bytes a row, up to this many rows. */
export const MAX_AUC_ROWS = 2 ** 28;
/** Fields with at most this many informative values list them in the truth file. */
const LIST_LIMIT = 1000;

export const INFORMATIVE_RULE =
  "a value is informative iff its field is informative and its key k (the rank; for integer fields the Criteo bucket of the value) " +
  "satisfies k < candidates and (k = 0 or hash < keep), hash = fmix(mix(mix(mix(seedKey, field position), 0x80000002), k)) / 2^32 " +
  "(MurmurHash3 steps, see src/data/synth/hash.ts); use isInformative() rather than re-implementing it";

/** Metrics of the written rows. */
export interface TruthStats {
  rows: number;
  positives: number;
  /** Empirical click rate (mean label). */
  clickRate: number;
  /** Mean true probability. */
  meanProbability: number;
  /** AUC of the true probabilities against the labels (null: one class only, or too many rows). */
  auc: number | null;
  /** Log loss of the true probabilities against the labels. */
  logloss: number;
  /** AUC expected from the probabilities alone (labels integrated out): less noisy than `auc`. */
  expectedAuc: number | null;
  /** Mean binary entropy of the probabilities: the expected Bayes log loss. */
  expectedLogloss: number;
}

/** Collects rows' (q, label) as they are written and computes {@link TruthStats}. */
export class TruthAccumulator {
  private keys: Uint32Array | null;
  private n = 0;
  private positives = 0;
  private readonly sumP = new CompensatedSum();
  private readonly entropy = new CompensatedSum();
  private readonly ll = new LoglossAccumulator(0);

  /** @param capacity rows to expect (more than MAX_AUC_ROWS: no AUC). */
  constructor(capacity: number) {
    this.keys = capacity <= MAX_AUC_ROWS ? new Uint32Array(capacity) : null;
  }

  /** One row: probability q / 1e9 and its label. */
  add(q: number, label: number): void {
    const p = q / 1e9;
    if (this.keys) {
      if (this.n === this.keys.length) {
        const grown = this.n < MAX_AUC_ROWS ? new Uint32Array(Math.min(MAX_AUC_ROWS, 2 * this.n + 1024)) : null;
        grown?.set(this.keys);
        this.keys = grown;
      }
      if (this.keys) this.keys[this.n] = q * 2 + label;
    }
    this.n++;
    this.positives += label;
    this.sumP.add(p);
    this.entropy.add(p === 0 || p === 1 ? 0 : -(p * Math.log(p) + (1 - p) * Math.log(1 - p)));
    this.ll.add(p, label);
  }

  finish(): TruthStats {
    const n = this.n;
    const stats: TruthStats = {
      rows: n,
      positives: this.positives,
      clickRate: n ? this.positives / n : 0,
      meanProbability: n ? this.sumP.value / n : 0,
      auc: null,
      logloss: n ? this.ll.value() : 0,
      expectedAuc: null,
      expectedLogloss: n ? this.entropy.value / n : 0,
    };
    if (this.keys && n > 0) Object.assign(stats, sortedAucs(this.keys.subarray(0, n).sort(), this.positives));
    return stats;
  }
}

/** AUC and expected AUC from sorted keys q * 2 + label (ties of q share midranks). */
function sortedAucs(keys: Uint32Array, positives: number): { auc: number | null; expectedAuc: number | null } {
  const n = keys.length;
  let num = 0, negBelow = 0, expNum = 0, oneMinusBelow = 0, sumP = 0, sumQ = 0, sumPQ = 0;
  for (let i = 0; i < n;) {
    const qv = keys[i] >>> 1;
    let j = i, pos = 0;
    while (j < n && keys[j] >>> 1 === qv) pos += keys[j++] & 1;
    const c = j - i, p = qv / 1e9;
    // Mann–Whitney: each positive beats the negatives below and half the tied ones.
    num += pos * (negBelow + 0.5 * (c - pos));
    negBelow += c - pos;
    expNum += c * p * oneMinusBelow + 0.5 * p * (1 - p) * c * (c - 1);
    oneMinusBelow += c * (1 - p);
    sumP += c * p;
    sumQ += c * (1 - p);
    sumPQ += c * p * (1 - p);
    i = j;
  }
  const auc = positives > 0 && positives < n ? num / (positives * (n - positives)) : null;
  const den = sumP * sumQ - sumPQ;
  return { auc, expectedAuc: den > 0 ? expNum / den : null };
}

/** One field in the truth file. */
export interface TruthField {
  name: string;
  kind: string;
  vocab: number;
  informative: boolean;
  /** What a key is: the value's rank, or (integer fields) its Criteo bucket. */
  keys?: "rank" | "bucket";
  /** Keys that may be informative (0 .. candidates - 1). */
  candidates?: number;
  /** Number of informative keys. */
  informativeCount?: number;
  /** Spellings of the informative values (categorical, when at most 1000). */
  informativeValues?: string[];
  /** The informative buckets (integer fields). */
  informativeBuckets?: number[];
}

/** The content of `<out>.truth.json`. */
export interface TruthJson {
  kind: "sparsectr-synth-truth";
  version: 1;
  preset: string;
  seed: number;
  format: SynthFormat;
  startRow: number;
  rows: number;
  achieved: { clickRate: number; meanProbability: number; positives: number; targetClickRate: number };
  bayes: { auc: number | null; logloss: number; expectedAuc: number | null; expectedLogloss: number };
  informativeFields: string[];
  noiseFields: string[];
  rule: string;
  fields: TruthField[];
  teacher: { bias: number; dim: number; pairs: { a: string; b: string; weight: number }[] };
  files: { data?: string; prob?: string; featindex?: string; schema?: string };
  /** The complete generator config: createGenerator(truth.config) rebuilds the stream. */
  config: SynthConfig;
}

/** Builds the truth of rows [start, start + stats.rows) of a generator. */
export function buildTruth(g: Generator, format: SynthFormat, start: number, stats: TruthStats, files: TruthJson["files"]): TruthJson {
  const c = g.config, t = g.teacher;
  const fields = c.fields.map((spec, f): TruthField => {
    const out: TruthField = { name: spec.name, kind: spec.kind, vocab: spec.vocab, informative: !!spec.informative };
    const ti = t.fieldOf.indexOf(f);
    if (ti < 0) return out;
    const keys = t.informativeKeys(ti);
    out.keys = spec.kind === "integer" ? "bucket" : "rank";
    out.candidates = t.candidates[ti];
    out.informativeCount = keys.length;
    if (spec.kind === "integer") out.informativeBuckets = keys;
    else if (keys.length <= LIST_LIMIT) out.informativeValues = keys.map((k) => g.codecs[f].text(k));
    return out;
  });
  const name = (ti: number): string => c.fields[t.fieldOf[ti]].name;
  return {
    kind: "sparsectr-synth-truth",
    version: 1,
    preset: c.preset,
    seed: c.seed,
    format,
    startRow: start,
    rows: stats.rows,
    achieved: { clickRate: stats.clickRate, meanProbability: stats.meanProbability, positives: stats.positives, targetClickRate: c.clickRate },
    bayes: { auc: stats.auc, logloss: stats.logloss, expectedAuc: stats.expectedAuc, expectedLogloss: stats.expectedLogloss },
    informativeFields: c.fields.filter((f) => f.informative).map((f) => f.name),
    noiseFields: c.fields.filter((f) => !f.informative).map((f) => f.name),
    rule: INFORMATIVE_RULE,
    fields,
    teacher: {
      bias: t.bias,
      dim: t.dim,
      pairs: Array.from(t.pairW, (w, p) => ({ a: name(t.pairA[p]), b: name(t.pairB[p]), weight: w })),
    },
    files,
    config: c,
  };
}

/** What isInformative needs from a truth file, built once per truth object. */
interface Resolver {
  index: Map<string, number>;
  codecs: FieldCodec[];
  candidates: number[];
  key: number;
  drift: Drift;
}
const resolvers = new WeakMap<object, Resolver>();

function resolver(truth: Pick<TruthJson, "config">): Resolver {
  let r = resolvers.get(truth);
  if (!r) {
    const c = truth.config;
    checkConfig(c);
    const key = seedKey(c.seed), clock = new HourClock(c.startHour);
    r = {
      index: new Map(c.fields.map((f, i) => [f.name, i])),
      codecs: c.fields.map((f, i) => new FieldCodec(f, i, key, clock, idExtent(c, i))),
      drift: new Drift(c, key),
      candidates: c.fields.map((f) => candidateKeys(f, c.teacher)),
      key,
    };
    resolvers.set(truth, r);
  }
  return r;
}

/** How integer values are given: as in the text formats (`raw`) or already bucketed (`bucket`, as in a libsvm featindex). */
export interface InformativeOptions {
  /** Default: "bucket" for a libsvm truth, "raw" otherwise. */
  integers?: "raw" | "bucket";
}

/**
 * Whether the value `value` (as spelled in the data file; "" = missing) of
 * `field` has an effect on the true click probability. Missing values, values
 * outside the vocabulary and every value of a noise field have none.
 * Throws for a field name the truth does not know.
 */
export function isInformative(truth: Pick<TruthJson, "config" | "format">, field: string, value: string, opts: InformativeOptions = {}): boolean {
  const r = resolver(truth), f = r.index.get(field);
  if (f === undefined) throw new RangeError(`isInformative: the truth has no field ${JSON.stringify(field)}`);
  const spec = truth.config.fields[f];
  if (!spec.informative || value === "") return false;
  let key: number;
  if (spec.kind === "integer") {
    if (!/^\d{1,16}$/.test(value)) return false;
    const v = Number(value);
    const bucketed = (opts.integers ?? (truth.format === "libsvm" ? "bucket" : "raw")) === "bucket";
    if (!bucketed && v >= spec.vocab) return false;
    key = bucketed ? v : criteoBucket(v);
  } else {
    const id = r.codecs[f].decode(value);
    key = id < 0 ? id : r.drift.teacherRank(f, id);
  }
  return keyIsInformative(r.key, f, key, r.candidates[f], truth.config.teacher.keep);
}

/** Whether key (a rank, or an integer field's bucket) of `field` is informative. */
export function isInformativeKey(truth: Pick<TruthJson, "config">, field: string, key: number): boolean {
  const r = resolver(truth), f = r.index.get(field);
  if (f === undefined) throw new RangeError(`isInformativeKey: the truth has no field ${JSON.stringify(field)}`);
  if (!truth.config.fields[f].informative) return false;
  return keyIsInformative(r.key, f, key, r.candidates[f], truth.config.teacher.keep);
}
