// The CSV/TSV schema: its JSON form, reading and checking it.
import { readFileSync } from "node:fs";

/** How a numeric column becomes features. */
export type Bucketing = "criteo" | "none";

/**
 * A CSV/TSV schema (JSON), for users' own logs:
 * `{ "delimiter": ",", "header": true, "label": "click", "categorical": ["site", ...],
 *    "numeric": [{ "name": "price", "bucket": "criteo" }, { "name": "age", "bucket": "none", "missing": 0 }],
 *    "ignore": ["id"] }`.
 * Every column must be named in label, categorical, numeric or ignore. With
 * `header: false`, `columns` lists the column names in file order.
 * Numeric columns with bucket "criteo" become categorical features
 * (v > 2 ? floor(ln(v)^2) : v, missing its own token); with "none" they are
 * numeric inputs (an empty cell takes `missing`, default 0).
 * `separators` (optional) makes categorical columns multi-valued:
 * `"separators": { "tags": "|" }` reads a cell `a|b|c` of column "tags" as
 * three features of its field (keys of (field, "a"), (field, "b"),
 * (field, "c"), each of value 1: Batch.bags), skipping empty parts; an empty
 * cell (or one of only separators) is the field's missing value, as in any
 * column. Each separator is one ASCII character other than the delimiter, a
 * quote, "\r" or "\n", and its column must be categorical. The label column
 * may hold 0/1 or -1/+1 (-1 is 0).
 */
export interface Schema {
  delimiter: string;
  header: boolean;
  columns?: string[];
  label: string;
  categorical: string[];
  numeric: { name: string; bucket: Bucketing; missing: number }[];
  ignore: string[];
  /** Multi-valued categorical columns: column name -> the one character separating its values. */
  separators?: Record<string, string>;
}

const KNOWN = ["delimiter", "header", "columns", "label", "categorical", "numeric", "ignore", "separators"];

/** Reads and checks a schema from a JSON file or an object; errors name the source and field. */
export function loadSchema(src: string | object): Schema {
  const where = typeof src === "string" ? `schema ${src}` : "schema";
  let raw: unknown = src;
  if (typeof src === "string") {
    let text: string;
    try {
      text = readFileSync(src, "utf8");
    } catch (e) {
      throw new Error(`${where}: ${(e as Error).message}`);
    }
    try {
      raw = JSON.parse(text);
    } catch (e) {
      throw new Error(`${where}: not valid JSON: ${(e as Error).message}`);
    }
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw new Error(`${where}: must be a JSON object`);
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!KNOWN.includes(k)) throw new Error(`${where}: unknown field "${k}" (known: ${KNOWN.join(", ")})`);
  const names = (k: string, need = false): string[] => {
    const v = o[k];
    if (v === undefined && !need) return [];
    if (!Array.isArray(v) || !v.every((x) => typeof x === "string" && x.length > 0)) throw new Error(`${where}: "${k}" must be an array of column names`);
    return v as string[];
  };
  const delimiter = o.delimiter === undefined ? "," : o.delimiter;
  if (typeof delimiter !== "string" || delimiter.length !== 1 || delimiter === '"' || delimiter === "\n") {
    throw new Error(`${where}: "delimiter" must be one character other than a quote or newline`);
  }
  const header = o.header === undefined ? true : o.header;
  if (typeof header !== "boolean") throw new Error(`${where}: "header" must be true or false`);
  if (typeof o.label !== "string" || o.label === "") throw new Error(`${where}: "label" must name the label column`);
  const numeric = (o.numeric === undefined ? [] : o.numeric) as unknown;
  if (!Array.isArray(numeric)) throw new Error(`${where}: "numeric" must be an array`);
  const num = numeric.map((n, i) => {
    if (typeof n === "string") return { name: n, bucket: "none" as Bucketing, missing: 0 };
    const e = n as Record<string, unknown>;
    if (!e || typeof e.name !== "string" || !e.name) throw new Error(`${where}: numeric[${i}] needs a "name"`);
    const bucket = e.bucket ?? "none";
    if (bucket !== "criteo" && bucket !== "none") throw new Error(`${where}: numeric[${i}].bucket must be "criteo" or "none"`);
    const missing = e.missing ?? 0;
    if (typeof missing !== "number" || !Number.isFinite(Math.fround(missing))) throw new Error(`${where}: numeric[${i}].missing must be a finite number (in the float32 range)`);
    return { name: e.name, bucket: bucket as Bucketing, missing };
  });
  const schema: Schema = {
    delimiter, header, label: o.label, categorical: names("categorical"), numeric: num, ignore: names("ignore"),
    columns: o.columns === undefined ? undefined : names("columns", true),
  };
  if (!header && !schema.columns) throw new Error(`${where}: "columns" is required when "header" is false`);
  const all = [schema.label, ...schema.categorical, ...schema.numeric.map((n) => n.name), ...schema.ignore];
  const seen = new Set<string>();
  for (const n of all) {
    if (seen.has(n)) throw new Error(`${where}: column ${JSON.stringify(n.slice(0, 60))} is named twice`);
    seen.add(n);
  }
  if (o.separators !== undefined) schema.separators = separators(where, o.separators, delimiter, new Set(schema.categorical));
  if (schema.categorical.length + schema.numeric.length === 0) throw new Error(`${where}: no feature columns (categorical or numeric)`);
  if (!header) {
    // The reader binds "columns" as it would a header line: check it here, where the error can name the schema.
    const cols = new Set<string>();
    for (const c of schema.columns!) {
      if (cols.has(c)) throw new Error(`${where}: column ${JSON.stringify(c.slice(0, 60))} appears twice in "columns"`);
      cols.add(c);
    }
    const absent = all.filter((n) => !cols.has(n));
    if (absent.length) throw new Error(`${where}: columns named but not in "columns": ${someNames(absent)}`);
    const unknown = schema.columns!.filter((c) => !seen.has(c));
    if (unknown.length) throw new Error(`${where}: "columns" has columns the schema does not name (add them to "ignore" to drop them): ${someNames(unknown)}`);
  }
  return schema;
}

/** Checks a schema's "separators": categorical columns, one ASCII character each, not the delimiter, a quote or a line end. */
function separators(where: string, raw: unknown, delimiter: string, categorical: Set<string>): Record<string, string> {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw new Error(`${where}: "separators" must be an object of column name to separator character`);
  const entries = Object.entries(raw as Record<string, unknown>);
  for (const [col, sep] of entries) {
    const name = JSON.stringify(col.slice(0, 60));
    if (!categorical.has(col)) throw new Error(`${where}: separators: column ${name} is not a categorical column`);
    if (typeof sep !== "string" || sep.length !== 1 || sep.charCodeAt(0) > 127) throw new Error(`${where}: separators: the separator of column ${name} must be one ASCII character`);
    if (sep === delimiter || sep === '"' || sep === "\n" || sep === "\r") throw new Error(`${where}: separators: the separator of column ${name} must not be the delimiter, a quote or a line end (got ${JSON.stringify(sep)})`);
  }
  // fromEntries: a column named "__proto__" stays an own entry.
  return Object.fromEntries(entries) as Record<string, string>;
}

/** The first few names of a list, for a message (a header may have millions). */
export function someNames(names: readonly string[]): string {
  const shown = names.slice(0, 10).map((n) => (n.length > 60 ? `${n.slice(0, 60)}...` : n)).join(", ");
  return names.length > 10 ? `${shown} and ${names.length - 10} more` : shown;
}
