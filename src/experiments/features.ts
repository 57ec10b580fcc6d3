/**
 * Feature selection, seen per field: which field each embedding row (feature
 * key) belongs to, how many of a field's values survive a sparse model, and,
 * on generated data, whether the survivors are the informative features of
 * the ground truth (precision and recall).
 *
 * The field of a key comes from reading the training rows (the reader puts
 * field f's key in column f). Whether a key is informative comes from the
 * generator itself: the truth file's configuration rebuilds the stream, whose
 * row i is the file's row i - startRow, so each (row, field) pair gives the
 * value's rank (or an integer field's Criteo bucket), and the truth's rule
 * says whether that key is informative. No re-implementation of the hashing
 * or of the formats is needed, and any format works.
 */
import { readFileSync } from "node:fs";
import { criteoBucket } from "../data/index.js";
import { createGenerator, isInformativeKey, type TruthJson } from "../data/synth/index.js";
import type { EmbeddingTable } from "../optim/sharded.js";
import { openPart, type DatasetSpec } from "./data.js";

export interface FeatureIndex {
  fields: readonly string[];
  /** Field number of every key of the training rows. */
  fieldOf: Map<bigint, number>;
  /** Keys that the ground truth calls informative (generated data only). */
  informative?: Set<bigint>;
  /** Whether each field is informative in the truth (null: not a generated field, e.g. Avazu's derived hour fields). */
  informativeField?: (boolean | null)[];
  /** Keys labelled both ways (a hash collision or a mismatch of rows and truth): 0 expected. */
  conflicts: number;
}

/** Reads the training rows once and labels their feature keys. */
export async function indexFeatures(ds: DatasetSpec): Promise<FeatureIndex> {
  const { file, range } = await openPart(ds, ds.train, 4096);
  const F = file.fields.length;
  const fieldOf = new Map<bigint, number>();
  let truth: TruthJson | undefined;
  if (ds.truth) {
    try { truth = JSON.parse(readFileSync(ds.truth, "utf8")) as TruthJson; } catch { truth = undefined; }
  }
  const gen = truth ? createGenerator(truth.config) : undefined;
  const cfgFields = truth?.config.fields ?? [];
  const genIndex = file.fields.map((name) => cfgFields.findIndex((f) => f.name === name));
  const informativeField = truth ? genIndex.map((g) => (g < 0 ? null : !!cfgFields[g].informative)) : undefined;
  const informative = truth ? new Set<bigint>() : undefined;
  const notInformative = truth ? new Set<bigint>() : undefined;
  const cache = new Map<number, boolean>();
  let row = (range.start ?? 0) + (truth?.startRow ?? 0);
  for await (const b of file.batches(range)) {
    for (let r = 0; r < b.rows; r++, row++) {
      if (gen) gen.fill(row);
      for (let f = 0; f < F; f++) {
        const key = b.keys[r * F + f];
        if (!fieldOf.has(key)) fieldOf.set(key, f);
        if (!gen) continue;
        const g = genIndex[f];
        let inf = false;
        if (g >= 0 && cfgFields[g].informative) {
          const rank = gen.ranks[g];
          if (rank >= 0) {
            const k = cfgFields[g].kind === "integer" ? criteoBucket(rank) : rank;
            const ck = g * 2 ** 32 + k;
            let v = cache.get(ck);
            if (v === undefined) { v = isInformativeKey(truth!, cfgFields[g].name, k); cache.set(ck, v); }
            inf = v;
          }
        }
        (inf ? informative! : notInformative!).add(key);
      }
    }
  }
  let conflicts = 0;
  if (informative && notInformative) for (const k of informative) if (notInformative.has(k)) conflicts++;
  return { fields: file.fields, fieldOf, ...(informative ? { informative, informativeField } : {}), conflicts };
}

export interface FieldCount {
  field: string;
  /** Informative in the truth (null: unknown). */
  informativeField: boolean | null;
  /** Values (rows) of the field in the table. */
  values: number;
  /** Of which informative (generated data). */
  informativeValues: number | null;
  /** Surviving (non-zero) values per method. */
  live: Record<string, number>;
  /** Surviving informative values per method. */
  liveInformative: Record<string, number | null>;
}

export interface MethodSummary {
  method: string;
  live: number;
  features: number;
  /** Surviving informative features / surviving features (generated data). */
  precision: number | null;
  /** Surviving informative features / informative features present. */
  recall: number | null;
  /** Fields with at least one surviving value. */
  fieldsKept: number;
  /** Noise fields (truth) with at least one surviving value. */
  noiseFieldsKept: number | null;
}

export interface SelectionReport {
  fields: FieldCount[];
  methods: MethodSummary[];
  informativePresent: number | null;
  conflicts: number;
}

/** Counts per field and precision/recall for each method's embedding table. */
export function selectionReport(index: FeatureIndex, methods: { name: string; table: EmbeddingTable }[]): SelectionReport {
  const F = index.fields.length;
  const hasTruth = index.informative !== undefined;
  const fields: FieldCount[] = index.fields.map((field, f) => ({
    field, informativeField: index.informativeField?.[f] ?? null, values: 0, informativeValues: hasTruth ? 0 : null,
    live: Object.fromEntries(methods.map((m) => [m.name, 0])), liveInformative: Object.fromEntries(methods.map((m) => [m.name, hasTruth ? 0 : null])),
  }));
  let informativePresent = 0;
  const ids = methods.length ? methods[0].table.ids() : new BigUint64Array(0);
  for (const id of ids) {
    const f = index.fieldOf.get(id);
    if (f === undefined || f >= F) continue;
    const fc = fields[f];
    fc.values++;
    const inf = index.informative?.has(id) ?? false;
    if (inf) { fc.informativeValues!++; informativePresent++; }
    for (const m of methods) {
      if (m.table.isZero(id)) continue;
      fc.live[m.name]++;
      if (inf) (fc.liveInformative[m.name] as number)++;
    }
  }
  const summaries = methods.map((m): MethodSummary => {
    const live = fields.reduce((s, x) => s + x.live[m.name], 0);
    const liveInf = hasTruth ? fields.reduce((s, x) => s + (x.liveInformative[m.name] ?? 0), 0) : 0;
    return {
      method: m.name, live, features: ids.length,
      precision: hasTruth && live > 0 ? liveInf / live : null,
      recall: hasTruth && informativePresent > 0 ? liveInf / informativePresent : null,
      fieldsKept: fields.filter((x) => x.live[m.name] > 0).length,
      noiseFieldsKept: hasTruth ? fields.filter((x) => x.informativeField !== true && x.live[m.name] > 0).length : null,
    };
  });
  return { fields, methods: summaries, informativePresent: hasTruth ? informativePresent : null, conflicts: index.conflicts };
}
