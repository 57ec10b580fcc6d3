/**
 * From a preset and a few overrides to a complete, checked configuration.
 */
import { fmix, mix, seedKey } from "./hash.js";
import { PRESETS } from "./presets.js";
import type { FieldSpec, Preset, SynthConfig, TeacherSpec } from "./types.js";
import { checkDrift } from "./drift.js";

/** Overrides of a preset (every one optional). */
export interface SynthOptions {
  /** Preset name (criteo, avazu, ipinyou) or a preset object; default criteo. */
  preset?: string | Preset;
  /** Seed, a safe non-negative integer (default 1). */
  seed?: number;
  /**
   * Multiplies categorical vocabularies: V -> max(min(V, 16), round(V * scale)).
   * Fields spelled only by literal codes and integer fields keep their size.
   */
  scale?: number;
  /** Target mean click probability. */
  clickRate?: number;
  /**
   * Informative fields: a count (that many fields, the preset's own first, in
   * a seeded order) or a list of field names.
   */
  informative?: number | readonly string[];
  /** Rows per hour of `hour` fields. */
  rowsPerHour?: number;
  /** Daily drift: day (0: none) and the share of values replaced each day (default 0.1); see drift.ts. */
  drift?: { day: number; churn?: number };
  /**
   * Teacher overrides, e.g. `{ linearShare: 1 }` for a first-order teacher
   * (no pairwise terms), which a model can learn from far fewer rows.
   */
  teacher?: Partial<TeacherSpec>;
}

/** Resolves options into a config; throws RangeError naming the bad option. */
export function synthConfig(opts: SynthOptions = {}): SynthConfig {
  const preset = typeof opts.preset === "object" ? opts.preset : PRESETS[opts.preset ?? "criteo"];
  if (!preset) throw new RangeError(`preset ${JSON.stringify(opts.preset)} is unknown (known: ${Object.keys(PRESETS).join(", ")})`);
  const seed = opts.seed ?? 1;
  const scale = opts.scale ?? 1;
  if (!(scale > 0) || !Number.isFinite(scale)) throw new RangeError(`scale ${scale} must be a positive number`);
  let fields: FieldSpec[] = preset.fields.map((f) => {
    const onlyCodes = f.codes !== undefined && f.codes.length >= f.vocab;
    if (f.kind !== "categorical" || onlyCodes || scale === 1) return { ...f };
    return { ...f, vocab: Math.max(Math.min(f.vocab, 16), Math.round(f.vocab * scale)) };
  });
  if (opts.informative !== undefined) fields = chooseInformative(fields, opts.informative, seed);
  for (const k of Object.keys(opts.teacher ?? {})) {
    if (!(k in preset.teacher)) throw new RangeError(`teacher option ${JSON.stringify(k)} is unknown (known: ${Object.keys(preset.teacher).join(", ")})`);
  }
  const config: SynthConfig = {
    ...preset,
    seed,
    clickRate: opts.clickRate ?? preset.clickRate,
    rowsPerHour: opts.rowsPerHour ?? preset.rowsPerHour,
    fields,
    teacher: { ...preset.teacher, ...(opts.teacher ?? {}) },
    ...(opts.drift && opts.drift.day > 0 ? { drift: { day: opts.drift.day, churn: opts.drift.churn ?? 0.1 } } : {}),
  };
  checkConfig(config);
  return config;
}

function chooseInformative(fields: FieldSpec[], which: number | readonly string[], seed: number): FieldSpec[] {
  const eligible = fields.flatMap((f, i) => (f.kind === "hour" ? [] : [i]));
  let chosen: Set<number>;
  if (typeof which === "number") {
    if (!Number.isInteger(which) || which < 0 || which > eligible.length) {
      throw new RangeError(`informative = ${which}: must be an integer count from 0 to ${eligible.length}`);
    }
    // The preset's informative fields come first, each group in a seeded order,
    // so a smaller count keeps a subset of the preset's choice.
    const key = seedKey(seed);
    const order = eligible
      .map((i) => ({ i, pre: fields[i].informative ? 0 : 1, h: fmix(mix(key, i)) }))
      .sort((a, b) => a.pre - b.pre || a.h - b.h);
    chosen = new Set(order.slice(0, which).map((o) => o.i));
  } else {
    chosen = new Set();
    for (const name of which) {
      const i = fields.findIndex((f) => f.name === name);
      if (i < 0) throw new RangeError(`informative: no field named ${JSON.stringify(name)}`);
      if (fields[i].kind === "hour") throw new RangeError(`informative: ${name} is a clock field and cannot be informative`);
      chosen.add(i);
    }
  }
  return fields.map((f, i) => ({ ...f, informative: chosen.has(i) }));
}

/** Checks a config (also one read back from a truth file); throws RangeError on the first problem. */
export function checkConfig(c: SynthConfig): void {
  if (!Number.isSafeInteger(c.seed) || c.seed < 0) throw new RangeError(`seed ${c.seed} must be a non-negative safe integer`);
  if (!(c.clickRate > 0 && c.clickRate < 1)) throw new RangeError(`click rate ${c.clickRate} must be in (0, 1)`);
  if (!["criteo", "avazu", "libsvm", "csv"].includes(c.format)) throw new RangeError(`format ${JSON.stringify(c.format)} is not criteo, avazu, libsvm or csv`);
  if (typeof c.startHour !== "string" || !/^\d{8}$/.test(c.startHour)) throw new RangeError(`start hour ${JSON.stringify(c.startHour)} must be YYMMDDHH`);
  if (!Number.isSafeInteger(c.rowsPerHour) || c.rowsPerHour < 1) throw new RangeError(`rows per hour ${c.rowsPerHour} must be a positive integer`);
  if (!Array.isArray(c.fields) || c.fields.length === 0 || c.fields.length >= 4096) throw new RangeError("a config needs 1 to 4095 fields");
  const names = new Set<string>();
  for (const f of c.fields) {
    const where = `field ${JSON.stringify(f.name)}`;
    if (typeof f.name !== "string" || !/^[A-Za-z0-9_.-]+$/.test(f.name)) throw new RangeError(`${where}: names are letters, digits, _ . -`);
    if (names.has(f.name)) throw new RangeError(`${where} appears twice`);
    names.add(f.name);
    if (f.kind !== "categorical" && f.kind !== "integer" && f.kind !== "hour") throw new RangeError(`${where}: kind must be categorical, integer or hour`);
    if (!Number.isSafeInteger(f.vocab) || f.vocab < 1 || f.vocab >= 2 ** 32) throw new RangeError(`${where}: vocab ${f.vocab} must be an integer in [1, 2^32)`);
    if (!(f.exponent > 0 && Number.isFinite(f.exponent))) throw new RangeError(`${where}: exponent ${f.exponent} must be positive`);
    if (f.shift !== undefined && !(f.shift >= 0 && Number.isFinite(f.shift))) throw new RangeError(`${where}: shift ${f.shift} must be >= 0`);
    if (f.missing !== undefined && !(f.missing >= 0 && f.missing < 1)) throw new RangeError(`${where}: missing ${f.missing} must be in [0, 1)`);
    if (f.kind === "hour" && (f.informative || f.missing)) throw new RangeError(`${where}: a clock field is never missing nor informative`);
  }
  const t = c.teacher;
  if (!Number.isInteger(t.dim) || t.dim < 1 || t.dim > 64) throw new RangeError(`teacher dim ${t.dim} must be an integer in [1, 64]`);
  if (!Number.isInteger(t.informativeRanks) || t.informativeRanks < 1 || t.informativeRanks > 1_000_000) {
    throw new RangeError(`teacher informativeRanks ${t.informativeRanks} must be an integer in [1, 1e6]`);
  }
  for (const [k, v] of [["keep", t.keep], ["pairDensity", t.pairDensity], ["linearShare", t.linearShare]] as const) {
    if (!(v >= 0 && v <= 1)) throw new RangeError(`teacher ${k} ${v} must be in [0, 1]`);
  }
  if (!(t.signal >= 0 && Number.isFinite(t.signal))) throw new RangeError(`teacher signal ${t.signal} must be >= 0`);
  if (!Number.isInteger(t.calibrationRows) || t.calibrationRows < 1) throw new RangeError(`teacher calibrationRows must be a positive integer`);
  checkDrift(c);
}
