/**
 * The options every command that reads data files shares (format, schema,
 * label column, featindex, bad rows), the ReadOptions they make, and the
 * expansion of quoted wildcards in file arguments.
 */
import { readdirSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { DataError, Format, ReadOptions } from "../data/index.js";
import { num, str, UsageError, type OptionSpec, type ParsedArgs } from "./args.js";

export const READ_OPTIONS: readonly OptionSpec[] = [
  { name: "format", type: "string", help: "criteo, avazu, libsvm or csv (detected when unambiguous)" },
  { name: "schema", type: "string", help: "schema JSON for csv files" },
  { name: "label-column", type: "string", help: "csv without a schema: the 0-based column of the label; every other column is categorical" },
  { name: "featindex", type: "string", help: "libsvm feature dictionary (field:value<TAB>index)" },
  { name: "skip-bad-rows", type: "boolean", help: "skip and report malformed rows instead of stopping" },
  { name: "max-bad-rows", type: "string", help: "with --skip-bad-rows: stop when more rows than this are bad (a count, or a percentage such as 1%)", default: "1%" },
];

/** The ReadOptions of a command's options; `onSkip` sees every skipped row. */
export function readOptionsOf(a: ParsedArgs, onSkip?: (e: DataError) => void): ReadOptions {
  const skip = a.values["skip-bad-rows"] === true;
  if (a.values["max-bad-rows"] !== undefined && !skip) throw new UsageError("--max-bad-rows goes with --skip-bad-rows");
  return {
    format: str(a, "format") as Format | undefined, schema: str(a, "schema"), featindex: str(a, "featindex"),
    labelColumn: a.values["label-column"] !== undefined ? num(a, "label-column", true) : undefined,
    skipBadRows: skip,
    ...(skip ? { maxBadRows: parseMaxBad(str(a, "max-bad-rows")!) } : {}),
    ...(onSkip ? { onSkip } : {}),
  };
}

/** "1%" -> { fraction: 0.01 }, "50" -> { count: 50 }. */
function parseMaxBad(v: string): { fraction: number } | { count: number } {
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(v.trim());
  if (pct) {
    const f = Number(pct[1]) / 100;
    if (f > 1) throw new UsageError(`--max-bad-rows ${v}: a percentage is at most 100%`);
    return { fraction: f };
  }
  const n = Number(v);
  if (v.trim() === "" || !Number.isSafeInteger(n) || n < 0) throw new UsageError(`--max-bad-rows ${v}: give a count of rows or a percentage such as 1%`);
  return { count: n };
}

/**
 * Data file arguments with shell-style wildcards (`*`, `?`) in their last
 * path segment expanded, for patterns the shell left quoted: the matches in
 * name order. A pattern that matches nothing is an error naming it.
 */
export function expandFiles(paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    const name = basename(p);
    if (!/[*?]/.test(name)) { out.push(p); continue; }
    const dir = dirname(p);
    const re = new RegExp(`^${name.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`);
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch (e) {
      throw new UsageError(`${p}: ${(e as Error).message}`);
    }
    const hits = names.filter((n) => re.test(n)).sort();
    if (!hits.length) throw new UsageError(`${p}: no file matches`);
    out.push(...hits.map((n) => join(dir, n)));
  }
  return out;
}
