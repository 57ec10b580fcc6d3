/**
 * Daily drift of a synthetic stream (SynthConfig.drift = { day, churn }), for
 * testing training that continues from yesterday's model. Day 0 is the
 * undrifted stream. On each day k >= 1 a share `churn` of each drifting
 * field's popularity ranks (by a seeded hash of field, rank and day) is taken
 * over by a new value: rank r, last taken over on day k <= day, is spelled as
 * the value of id r + k V (V the vocabulary; ids never seen before day k),
 * and the teacher scores it as candidate rank (r + k s) mod C when r < C (C
 * the field's candidate informative ranks, s a fixed stride): what is
 * informative moves to new values while the rest of the stream stays put.
 * Drifting fields are the categorical ones spelled by a 32-bit bijection
 * (hex8, u32, md5 styles) with values past their literal codes; the others
 * (integers, the clock, dec and ip spellings) do not drift.
 */
import { mix, STREAM, streamPrefix, word } from "./hash.js";
import type { FieldSpec, SynthConfig } from "./types.js";

const TWO32 = 4294967296;

/** Whether a field can drift (see the module comment). */
export function driftsField(f: FieldSpec): boolean {
  const style = f.style ?? "hex8";
  return f.kind === "categorical" && (style === "hex8" || style === "u32" || style === "md5") && f.vocab > (f.codes?.length ?? 0);
}

/** The value ids a field spells up to a config's day: V, or (day + 1) V for a drifting field. */
export function idExtent(c: SynthConfig, f: number): number {
  const spec = c.fields[f];
  return c.drift && c.drift.day > 0 && driftsField(spec) ? (c.drift.day + 1) * spec.vocab : spec.vocab;
}

/** Checks a config's drift: day an integer in [0, 10000], churn in [0, 1], ids within 2^32. */
export function checkDrift(c: SynthConfig): void {
  const d = c.drift;
  if (d === undefined) return;
  if (!Number.isInteger(d.day) || d.day < 0 || d.day > 10_000) throw new RangeError(`drift day ${d.day} must be an integer in [0, 10000]`);
  if (!(d.churn >= 0 && d.churn <= 1)) throw new RangeError(`drift churn ${d.churn} must be in [0, 1]`);
  c.fields.forEach((f, i) => {
    if (driftsField(f) && idExtent(c, i) > TWO32) throw new RangeError(`field ${JSON.stringify(f.name)}: ${d.day + 1} days of ${f.vocab} values pass 2^32 ids`);
  });
}

/** The drift of one config: value ids and teacher ranks of the day. */
export class Drift {
  /** Fields that drift (empty on day 0 or with churn 0). */
  readonly fields: Int32Array;
  private readonly key: number;
  private readonly threshold: number;
  private readonly vocab: number[];
  private readonly candidates: number[];
  private readonly stride: number[];

  constructor(readonly config: SynthConfig, seedKey: number) {
    const d = config.drift;
    const on = d !== undefined && d.day > 0 && d.churn > 0;
    this.fields = Int32Array.from(on ? config.fields.flatMap((f, i) => (driftsField(f) ? [i] : [])) : []);
    this.key = mix(seedKey, STREAM.drift);
    this.threshold = (d?.churn ?? 0) * TWO32;
    this.vocab = config.fields.map((f) => f.vocab);
    this.candidates = config.fields.map((f) => Math.min(f.vocab, config.teacher.informativeRanks));
    // A stride near C / phi moves a candidate far from its old rank.
    this.stride = this.candidates.map((c) => Math.max(1, Math.floor(c * 0.618)));
  }

  /** The id of popularity rank r of field f on the config's day (r itself when never taken over). */
  idOf(f: number, r: number): number {
    const day = this.config.drift?.day ?? 0;
    for (let k = day; k >= 1; k--) {
      if (word(streamPrefix(this.key, r, k), f) < this.threshold) return r + k * this.vocab[f];
    }
    return r;
  }

  /** The rank the teacher scores for value id `id` of field f. */
  teacherRank(f: number, id: number): number {
    const v = this.vocab[f];
    if (id < v) return id;
    const k = Math.floor(id / v), r = id - k * v, c = this.candidates[f];
    return r < c ? (r + k * this.stride[f]) % c : r;
  }
}
