/**
 * Row writers, one per output format, byte-compatible with the public files:
 * - criteo: `label<TAB>field...`, no header, empty = missing (Criteo Kaggle train.txt);
 * - avazu: CSV with header `id,click,<fields>`, id a unique 64-bit decimal (Avazu train);
 * - libsvm: `label idx:1 ...`, one index per field, ascending (make-ipinyou-data);
 * - csv: header `click,<fields>`, read through a schema file.
 * Plus the side files: the libsvm feature dictionary and the CSV schema.
 */
import { criteoBucket } from "../formats/bucket.js";
import { ByteWriter } from "./bytes.js";
import { mix, STREAM, streamPrefix, word } from "./hash.js";
import type { Generator } from "./generator.js";
import { bucketOf } from "./teacher.js";
import type { FieldSpec, SynthFormat } from "./types.js";

export const FORMATS: readonly SynthFormat[] = ["criteo", "avazu", "libsvm", "csv"];
const TAB = 9, COMMA = 44, SPACE = 32, NL = 10, COLON = 58, ONE = 49;
const TWO32 = 4294967296;

/** Writes the rows of one format. */
export interface RowFormat {
  /** Header line (with its newline), or undefined. */
  readonly header: string | undefined;
  /** Upper bound of a row's bytes. */
  readonly maxRowBytes: number;
  /** Writes the row the generator last filled (row index i). */
  row(w: ByteWriter, g: Generator, i: number): void;
}

/** The writer of a format for a generator's fields. */
export function rowFormat(format: SynthFormat, g: Generator): RowFormat {
  const fields = g.config.fields;
  const valueBytes = g.codecs.reduce((s, c) => s + c.maxLength + 1, 0);
  switch (format) {
    case "criteo": return new DelimitedFormat(TAB, undefined, valueBytes + 2);
    case "csv": return new DelimitedFormat(COMMA, ["click", ...fields.map((f) => f.name)].join(",") + "\n", valueBytes + 2);
    case "avazu": return new AvazuFormat(g, valueBytes + 24);
    case "libsvm":
      // Its feature indices are laid out by vocabulary: a drifting day's new ids have none.
      if (g.drift.fields.length) throw new RangeError("libsvm output has no indices for a drifting day's new values: write criteo, avazu or csv");
      return new LibsvmFormat(fields, fields.length * (String(featIndexSize(fields)).length + 4) + 2);
    default: throw new RangeError(`format ${JSON.stringify(format)} is unknown (known: ${FORMATS.join(", ")})`);
  }
}

/** `label SEP v1 SEP v2 ...` (criteo with tabs, csv with commas). */
class DelimitedFormat implements RowFormat {
  constructor(private readonly sep: number, readonly header: string | undefined, readonly maxRowBytes: number) {}

  row(w: ByteWriter, g: Generator): void {
    w.byte(48 + g.label);
    writeValues(w, g, this.sep);
    w.byte(NL);
  }
}

function writeValues(w: ByteWriter, g: Generator, sep: number): void {
  const ranks = g.ranks, codecs = g.codecs;
  for (let f = 0; f < ranks.length; f++) {
    w.byte(sep);
    const r = ranks[f];
    if (r >= 0) codecs[f].put(w, r);
  }
}

/** Avazu: `id,click,<fields>` with the id a keyed 64-bit bijection of the row index. */
class AvazuFormat implements RowFormat {
  readonly header: string;
  private readonly prefix: number;
  private readonly groups = new Int32Array(5);

  constructor(g: Generator, readonly maxRowBytes: number) {
    this.header = ["id", "click", ...g.config.fields.map((f) => f.name)].join(",") + "\n";
    this.prefix = streamPrefix(g.key, 0, STREAM.ids);
  }

  row(w: ByteWriter, g: Generator, i: number): void {
    this.id(w, i);
    w.byte(COMMA);
    w.byte(48 + g.label);
    writeValues(w, g, COMMA);
    w.byte(NL);
  }

  /**
   * A 4-round Feistel network on the row index's two 32-bit halves: a
   * bijection of 64-bit words, so ids are unique and look like Avazu's
   * (uniform 64-bit values), written in decimal without BigInt.
   */
  private id(w: ByteWriter, i: number): void {
    let l = Math.floor(i / TWO32) >>> 0, r = i >>> 0;
    for (let k = 0; k < 4; k++) {
      const t = (l ^ word(mix(this.prefix, k), r)) >>> 0;
      l = r;
      r = t;
    }
    // Four 16-bit limbs divided by 10^4 five times (2^64 < 10^20).
    let a3 = l >>> 16, a2 = l & 0xffff, a1 = r >>> 16, a0 = r & 0xffff;
    const g = this.groups;
    for (let k = 0; k < 5; k++) {
      let cur = a3;
      a3 = Math.floor(cur / 10000);
      cur = (cur - a3 * 10000) * 65536 + a2;
      a2 = Math.floor(cur / 10000);
      cur = (cur - a2 * 10000) * 65536 + a1;
      a1 = Math.floor(cur / 10000);
      cur = (cur - a1 * 10000) * 65536 + a0;
      a0 = Math.floor(cur / 10000);
      g[k] = cur - a0 * 10000;
    }
    let top = 4;
    while (top > 0 && g[top] === 0) top--;
    w.uint(g[top]);
    for (let k = top - 1; k >= 0; k--) {
      const v = g[k];
      w.byte(48 + Math.floor(v / 1000));
      w.byte(48 + (Math.floor(v / 100) % 10));
      w.byte(48 + (Math.floor(v / 10) % 10));
      w.byte(48 + (v % 10));
    }
  }
}

/**
 * Feature-index layout of the libsvm format: field f owns indices
 * offset[f] .. offset[f] + keys(f), `other` (missing, or an hour past the
 * field's vocabulary) first, then key k at offset[f] + 1 + k. Keys are ranks,
 * except integer fields, whose keys are Criteo buckets (the usual one-hot
 * encoding of counts, and what every reader feeds the model anyway).
 */
export function featureOffsets(fields: readonly FieldSpec[]): number[] {
  const off = [0];
  for (const f of fields) off.push(off[off.length - 1] + 1 + keySpace(f));
  return off;
}

/** Number of keys of a field in the libsvm encoding. */
export function keySpace(f: FieldSpec): number {
  return f.kind === "integer" ? criteoBucket(f.vocab - 1) + 1 : f.vocab;
}

class LibsvmFormat implements RowFormat {
  readonly header = undefined;
  private readonly offset: Float64Array;
  private readonly kind: Uint8Array;
  private readonly vocab: Float64Array;

  constructor(fields: readonly FieldSpec[], readonly maxRowBytes: number) {
    this.offset = Float64Array.from(featureOffsets(fields));
    this.kind = Uint8Array.from(fields, (f) => (f.kind === "integer" ? 1 : f.kind === "hour" ? 2 : 0));
    this.vocab = Float64Array.from(fields, (f) => f.vocab);
  }

  row(w: ByteWriter, g: Generator): void {
    w.byte(48 + g.label);
    const ranks = g.ranks;
    for (let f = 0; f < ranks.length; f++) {
      let k = ranks[f];
      if (k >= 0 && this.kind[f] === 1) k = bucketOf(k);
      else if (this.kind[f] === 2 && k >= this.vocab[f]) k = -1;
      w.byte(SPACE);
      w.uint(this.offset[f] + 1 + k);
      w.byte(COLON);
      w.byte(ONE);
    }
    w.byte(NL);
  }
}

/** Number of lines of the libsvm feature dictionary (= number of indices). */
export function featIndexSize(fields: readonly FieldSpec[]): number {
  return featureOffsets(fields)[fields.length];
}

/**
 * Writes the feature dictionary in chunks: for each field `name:other` then
 * each key's spelling (integer fields: the bucket number), like
 * make-ipinyou-data's featindex.fm.txt.
 */
export async function writeFeatIndex(g: Generator, sink: (chunk: Uint8Array) => void | Promise<void>): Promise<void> {
  const fields = g.config.fields, off = featureOffsets(fields);
  const w = new ByteWriter(1 << 20);
  for (let f = 0; f < fields.length; f++) {
    const spec = fields[f], prefix = new TextEncoder().encode(spec.name + ":");
    const keys = keySpace(spec), lineBytes = prefix.length + Math.max(g.codecs[f].maxLength, 5) + 24;
    for (let k = -1; k < keys; k++) {
      if (!w.room(lineBytes)) await sink(w.take());
      w.bytes(prefix);
      if (k < 0) w.text("other");
      else if (spec.kind === "integer") w.uint(k);
      else g.codecs[f].put(w, k);
      w.byte(TAB);
      w.uint(off[f] + 1 + k);
      w.byte(NL);
    }
  }
  if (w.pos > 0) await sink(w.take());
}

/** The reader's schema of a csv file (the JSON written to `<out>.schema.json`). */
export interface CsvSchemaJson {
  delimiter: ",";
  header: true;
  label: "click";
  categorical: string[];
  numeric: { name: string; bucket: "criteo" }[];
  ignore: string[];
}

/** The reader's CSV schema for the csv format: integer fields numeric with the Criteo bucket. */
export function csvSchema(fields: readonly FieldSpec[]): CsvSchemaJson {
  return {
    delimiter: ",",
    header: true,
    label: "click",
    categorical: fields.filter((f) => f.kind !== "integer").map((f) => f.name),
    numeric: fields.filter((f) => f.kind === "integer").map((f) => ({ name: f.name, bucket: "criteo" })),
    ignore: [],
  };
}
