/**
 * The options every command that reads data files shares (format, schema,
 * label column, featindex, bad rows), the ReadOptions they make, the
 * expansion of quoted wildcards in file arguments, and standard input ("-")
 * in them: one option at most, spooled to a file for commands that read
 * their files several times.
 */
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import type { DataError, Format, ReadOptions } from "../data/index.js";
import { isSpoolFile, isStdin, spoolStdin, STDIN_NAME, type Spool } from "../data/stdin.js";
import { hasCheckpoint } from "../train/checkpoint.js";
import { list, num, str, UsageError, type OptionSpec, type ParsedArgs } from "./args.js";

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

/**
 * The file lists of the options `names` (each through expandFiles), where at
 * most one value of one option may be "-", standard input: two are a usage
 * error naming them.
 */
export function inputFiles<K extends string>(a: ParsedArgs, names: readonly K[]): Record<K, string[]> {
  const files = {} as Record<K, string[]>;
  const stdin: string[] = [];
  for (const n of names) {
    files[n] = expandFiles(list(a, n));
    for (const p of files[n]) if (isStdin(p)) stdin.push(`--${n} -`);
  }
  if (stdin.length > 1) throw new UsageError(`${stdin.join(" and ")}: ${STDIN_NAME} can be read by one option only, once`);
  return files;
}

/**
 * Spools standard input for the lists that name it ("-": at most one, see
 * inputFiles), replacing "-" in its list by the spool's path. The spool goes
 * in `out` when given (created if need be; the caller has refused an `out`
 * holding another run's checkpoint) and is kept there
 * at exit while `out` holds the run's checkpoint, so that `--resume` can read
 * it; else in the OS temporary folder. It is removed at exit otherwise.
 */
export async function spoolInputs(lists: readonly string[][], out: string | undefined): Promise<Spool | undefined> {
  const target = lists.find((l) => l.some(isStdin));
  if (target === undefined) return undefined;
  let dir = tmpdir();
  if (out !== undefined) {
    mkdirSync(out, { recursive: true });
    dir = resolve(out);
  }
  const spool = await spoolStdin(dir);
  if (out !== undefined) spool.keepIf = () => hasCheckpoint(out);
  target[target.findIndex(isStdin)] = spool.path;
  return spool;
}

/**
 * A resumed run's files: a copy of standard input it spooled in its folder
 * that is no longer where the checkpoint says (the folder moved) is read
 * from `dir`, where the folder is now; one that is gone is an error saying so.
 */
export function spooledIn<F extends Record<string, readonly string[]>>(files: F, dir: string): F {
  const out: Record<string, string[]> = {};
  for (const [k, paths] of Object.entries(files)) {
    out[k] = paths.map((p) => {
      if (!isSpoolFile(p) || existsSync(p)) return p;
      const here = join(dir, basename(p));
      if (!existsSync(here)) throw new Error(`${here}: the run read its --${k} from ${STDIN_NAME}, and this spooled copy of it is gone: the run cannot be resumed (train it anew)`);
      return here;
    });
  }
  return { ...files, ...out };
}
