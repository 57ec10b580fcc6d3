/**
 * The plain-data description of a synthetic CTR dataset: its fields (how
 * values are drawn and spelled) and its teacher (which values carry signal).
 * Presets are values of these types; so is the resolved configuration that a
 * truth file records, which rebuilds the identical generator.
 */

/** Output formats (the same names as the readers'). */
export type SynthFormat = "criteo" | "avazu" | "libsvm" | "csv";

/**
 * - `categorical`: a Zipf-distributed rank, spelled by `style`/`codes`.
 * - `integer`: a non-negative count; the value *is* the rank (0 most frequent
 *   with the Zipf–Mandelbrot shift giving a flat head). Models see it through
 *   the Criteo bucket v > 2 ? floor(ln(v)^2) : v, and so does the teacher.
 * - `hour`: a clock, not random: YYMMDDHH advancing every `rowsPerHour` rows.
 */
export type FieldKind = "categorical" | "integer" | "hour";

/**
 * How a categorical rank past the `codes` list is spelled (j = rank - codes.length):
 * `hex8` 8 lowercase hex digits of a keyed 32-bit bijection of j (Criteo, Avazu);
 * `dec` the decimal base + j; `u32` the decimal of the bijection (iPinYou slot ids);
 * `ip` a.b.c.* from a 24-bit bijection; `md5` 32 hex digits led by the hex8 form.
 */
export type ValueStyle = "hex8" | "dec" | "u32" | "ip" | "md5";

export interface FieldSpec {
  /** Column name (header, featindex and schema name). */
  name: string;
  kind: FieldKind;
  /**
   * Number of distinct values V (ranks 0..V-1). For `integer` fields the values
   * are 0..V-1; for `hour` fields, the hours a featindex lists.
   */
  vocab: number;
  /** Zipf exponent s > 0: P(rank k) ∝ (k + 1 + shift)^-s. Ignored by `hour`. */
  exponent: number;
  /** Zipf–Mandelbrot shift q >= 0 (default 0). */
  shift?: number;
  /** Probability that the value is missing (an empty cell), default 0. */
  missing?: number;
  /** Whether the field feeds the teacher (default false: pure noise). */
  informative?: boolean;
  /** Spelling of categorical values (default hex8). */
  style?: ValueStyle;
  /** Literal spellings of the first ranks (most frequent first). */
  codes?: string[];
  /** First value of the `dec` style (default 0). */
  base?: number;
}

export interface TeacherSpec {
  /** Embedding dimension of the true feature vectors. */
  dim: number;
  /**
   * Candidate informative values per field: categorical ranks below this
   * (capped by the vocabulary); integer fields use all their buckets.
   */
  informativeRanks: number;
  /** Fraction of candidates that are informative (by a seeded hash); rank/bucket 0 always is. */
  keep: number;
  /** Fraction of informative field pairs that interact. */
  pairDensity: number;
  /** Scale of the logit (its standard deviation before coverage effects). */
  signal: number;
  /** Share of the logit variance given to the linear terms (the rest to pairs). */
  linearShare: number;
  /** Calibration sample size for the bias. */
  calibrationRows: number;
}

/** A complete description of a generator; row i is a pure function of (config, i). */
export interface SynthConfig {
  /** Preset the config came from (informational). */
  preset: string;
  seed: number;
  /** Target mean click probability. */
  clickRate: number;
  fields: FieldSpec[];
  teacher: TeacherSpec;
  /** Rows per hour of `hour` fields. */
  rowsPerHour: number;
  /** The first hour, YYMMDDHH (20YY). */
  startHour: string;
  /** The preset's native format. */
  format: SynthFormat;
  /** Daily drift (see drift.ts); absent: day 0, no drift. */
  drift?: { day: number; churn: number };
}

/** A preset: a config without a seed. */
export type Preset = Omit<SynthConfig, "seed">;
