/**
 * The generator: row i of the infinite stream is a pure function of (config, i).
 *
 * Randomness is counter-based: row i's prefix hashes (seed, i), field f draws
 * from slots ((f + 1) << 12) + j, the label from slot 0. Nothing depends on
 * earlier rows, so `start .. start + count` of one run equals the same rows of
 * any other run, a test file continues a train file, and generation splits
 * across processes.
 */
import { HourClock } from "./clock.js";
import { checkConfig } from "./config.js";
import { seedKey, STREAM, streamPrefix, word } from "./hash.js";
import { calibrateBias, Teacher } from "./teacher.js";
import type { SynthConfig } from "./types.js";
import { Drift, idExtent } from "./drift.js";
import { FieldCodec } from "./values.js";
import { AliasSampler, rankSampler, RejectionInversionSampler, type RankSampler } from "./zipf.js";

const TWO32 = 4294967296;
/** Probabilities are multiples of 1e-9 in [1e-9, 1 - 1e-9] (exact in the .prob text). */
export const P_SCALE = 1e9;

/** One row, as {@link Generator.row} returns it. */
export interface SynthRow {
  index: number;
  label: 0 | 1;
  /** True click probability (a multiple of 1e-9). */
  p: number;
  /** Rank of each field's value (the hour index for clock fields), -1 when missing. */
  ranks: number[];
  /** Each field's value as the text formats spell it, "" when missing. */
  values: string[];
}

export class Generator {
  readonly config: SynthConfig;
  readonly codecs: FieldCodec[];
  readonly teacher: Teacher;
  readonly clock: HourClock;
  /** The seed's key (every stream derives from it). */
  readonly key: number;
  /** Ranks of the row last filled (-1 = missing). */
  readonly ranks: Int32Array;
  /** Label of the row last filled. */
  label = 0;
  /** Click probability of the row last filled, times 1e9 (an integer). */
  q = 0;
  private readonly samplers: RankSampler[];
  private readonly missing: Float64Array;
  // Fields grouped by sampler class, so each hot loop has one call target.
  private readonly aliasFields: Int32Array;
  private readonly aliasSamplers: AliasSampler[];
  private readonly rejectionFields: Int32Array;
  private readonly rejectionSamplers: RejectionInversionSampler[];
  private readonly hourFields: Int32Array;
  /** The day's drift, and the ranks the teacher scores when a field drifts (else {@link ranks}). */
  readonly drift: Drift;
  private readonly teacherRanks: Int32Array;

  constructor(config: SynthConfig) {
    checkConfig(config);
    this.config = config;
    this.key = seedKey(config.seed);
    this.clock = new HourClock(config.startHour);
    const fields = config.fields;
    this.codecs = fields.map((f, i) => new FieldCodec(f, i, this.key, this.clock, idExtent(config, i)));
    this.drift = new Drift(config, this.key);
    this.samplers = fields.map((f) => rankSampler(f.kind === "hour" ? 1 : f.vocab, f.exponent, f.shift ?? 0));
    this.missing = Float64Array.from(fields, (f) => Math.round((f.missing ?? 0) * TWO32));
    this.ranks = new Int32Array(fields.length);
    this.teacherRanks = this.drift.fields.length ? new Int32Array(fields.length) : this.ranks;
    const group = <T extends RankSampler>(cls: new (...a: never[]) => T): [Int32Array, T[]] => {
      const idx = fields.flatMap((f, i) => (f.kind !== "hour" && this.samplers[i] instanceof cls ? [i] : []));
      return [Int32Array.from(idx), idx.map((i) => this.samplers[i] as T)];
    };
    [this.aliasFields, this.aliasSamplers] = group(AliasSampler);
    [this.rejectionFields, this.rejectionSamplers] = group(RejectionInversionSampler);
    this.hourFields = Int32Array.from(fields.flatMap((f, i) => (f.kind === "hour" ? [i] : [])));
    this.teacher = new Teacher(fields, config.teacher, this.key);
    this.teacher.bias = this.calibrate();
  }

  /** Fields drawn from a calibration stream (informative ones only: the rest do not move the logit). */
  private calibrate(): number {
    const n = this.config.teacher.calibrationRows;
    const z = new Float64Array(n);
    this.ranks.fill(-1);
    const t = this.teacher;
    for (let j = 0; j < n; j++) {
      const prefix = streamPrefix(this.key, j, STREAM.calibration);
      for (let k = 0; k < t.size; k++) this.drawField(prefix, t.fieldOf[k]);
      z[j] = t.score(this.ranks);
    }
    return calibrateBias(z, this.config.clickRate);
  }

  private drawField(prefix: number, f: number): void {
    const base = (f + 1) << 12;
    const miss = this.missing[f];
    this.ranks[f] = miss > 0 && word(prefix, base + 4095) < miss ? -1 : this.samplers[f].sample(prefix, base);
  }

  /** Computes row i into {@link ranks}, {@link label} and {@link q} (no allocation). */
  fill(i: number): void {
    const prefix = streamPrefix(this.key, i >>> 0, Math.floor(i / TWO32));
    const ranks = this.ranks, missing = this.missing;
    const af = this.aliasFields, as = this.aliasSamplers;
    for (let k = 0; k < af.length; k++) {
      const f = af[k], base = (f + 1) << 12, miss = missing[f];
      ranks[f] = miss > 0 && word(prefix, base + 4095) < miss ? -1 : as[k].sample(prefix, base);
    }
    const rf = this.rejectionFields, rs = this.rejectionSamplers;
    for (let k = 0; k < rf.length; k++) {
      const f = rf[k], base = (f + 1) << 12, miss = missing[f];
      ranks[f] = miss > 0 && word(prefix, base + 4095) < miss ? -1 : rs[k].sample(prefix, base);
    }
    const hf = this.hourFields;
    for (let k = 0; k < hf.length; k++) ranks[hf[k]] = Math.floor(i / this.config.rowsPerHour);
    const df = this.drift.fields;
    if (df.length) {
      // Drift: popularity ranks become the day's value ids; the teacher scores their ranks.
      const tr = this.teacherRanks;
      tr.set(ranks);
      for (let k = 0; k < df.length; k++) {
        const f = df[k], r = ranks[f];
        if (r < 0) continue;
        const id = this.drift.idOf(f, r);
        ranks[f] = id;
        tr[f] = this.drift.teacherRank(f, id);
      }
    }
    const q = this.quantize(this.teacher.bias + this.teacher.score(this.teacherRanks));
    this.q = q;
    // P(label = 1) = ceil(q * 2^32 / 1e9) / 2^32, within 2.4e-10 of q / 1e9.
    this.label = word(prefix, 0) < q * (TWO32 / P_SCALE) ? 1 : 0;
  }

  private quantize(logit: number): number {
    const q = Math.round(P_SCALE / (1 + Math.exp(-logit)));
    return q < 1 ? 1 : q > P_SCALE - 1 ? P_SCALE - 1 : q;
  }

  /** Row i as an object (for tests and tools; {@link fill} is the fast path). */
  row(i: number): SynthRow {
    checkRowIndex(i);
    this.fill(i);
    const ranks = Array.from(this.ranks);
    return {
      index: i,
      label: this.label as 0 | 1,
      p: this.q / P_SCALE,
      ranks,
      values: ranks.map((r, f) => (r < 0 ? "" : this.codecs[f].text(r))),
    };
  }

  /** The true probability of any combination of ranks (value ids, on a drifting day; a multiple of 1e-9). */
  probabilityOf(ranks: ArrayLike<number>): number {
    const tr = Int32Array.from(ranks, (r, f) => (r < 0 ? r : this.drift.teacherRank(f, r)));
    return this.quantize(this.teacher.bias + this.teacher.score(tr)) / P_SCALE;
  }
}

/** Throws unless i is a valid row index. */
export function checkRowIndex(i: number): void {
  if (!Number.isSafeInteger(i) || i < 0) throw new RangeError(`row index ${i} must be a non-negative safe integer`);
}

/** A generator for a config (see {@link synthConfig} to build one from a preset). */
export function createGenerator(config: SynthConfig): Generator {
  return new Generator(config);
}
