import { parseArgs as nodeParseArgs } from "node:util";

/**
 * The command-line parser (node:util parseArgs, strict): `--name value`, `--name=value`,
 * boolean `--flag` and repeated options. Unknown options and missing values are errors that name
 * the option, so a typo never silently changes a run.
 */
export interface OptionSpec {
  /** Option name without dashes. */
  name: string;
  /** "string" takes a value, "boolean" is a flag. */
  type: "string" | "boolean";
  /** Help text. */
  help: string;
  /** The value an absent option takes (str and num return it), shown in help: each default is written here once. */
  default?: string;
  /** Shown in help as the default when it is computed (the option is then absent from the values). */
  defaultHelp?: string;
  /** The option may be given several times (its value is then a list). */
  multiple?: boolean;
}

export interface Command {
  name: string;
  summary: string;
  /** Usage line(s) shown by --help, after "sparsectr ". */
  usage: string;
  options: readonly OptionSpec[];
  run(opts: ParsedArgs): Promise<number>;
}

export interface ParsedArgs {
  /** Option values given, by name (strings for "string", lists for "multiple", true for flags). */
  values: Record<string, string | true | string[]>;
  /** Arguments that are not options. */
  positional: string[];
  /** The options' defaults (OptionSpec.default), for those not given. */
  defaults: Record<string, string>;
}

/** Raised for command-line mistakes: printed without a stack trace, exit code 2. */
export class UsageError extends Error {}

export function parseArgs(argv: readonly string[], specs: readonly OptionSpec[]): ParsedArgs {
  const options: Record<string, { type: "string" | "boolean"; multiple?: boolean }> = {};
  for (const s of specs) options[s.name] = { type: s.type, ...(s.multiple ? { multiple: true } : {}) };
  // A value may start with one dash (a negative number): node:util would take it for an option.
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i], next = argv[i + 1];
    if (a.startsWith("--") && !a.includes("=") && options[a.slice(2)]?.type === "string" && next !== undefined && /^-[^-]/.test(next)) {
      args.push(`${a}=${next}`);
      i++;
    } else args.push(a);
  }
  let parsed: ReturnType<typeof nodeParseArgs>;
  try {
    parsed = nodeParseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(usageMessage(e as Error & { code?: string }));
  }
  const values: Record<string, string | true | string[]> = {};
  for (const [k, v] of Object.entries(parsed.values)) {
    if (v === false || v === undefined) continue;
    if (Array.isArray(v)) values[k] = v.map(String);
    else values[k] = v === true ? true : String(v);
  }
  return { values, positional: parsed.positionals, defaults: defaultsOf(specs) };
}

/** node:util's parse errors, worded as this CLI's (the option named, "see --help"). */
function usageMessage(e: Error & { code?: string }): string {
  const name = /'(-[^' ]+)/.exec(e.message)?.[1];
  switch (e.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION": return `unknown option ${name ?? ""} (see --help)`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      return /argument missing|requires an argument|<value>' argument missing/.test(e.message) || /argument is ambiguous/.test(e.message)
        ? `option ${name ?? ""} needs a value`
        : `option ${name ?? ""} is a flag and takes no value`;
    default: return e.message;
  }
}

/** The literal defaults of a command's options. */
export function defaultsOf(specs: readonly OptionSpec[]): Record<string, string> {
  const d: Record<string, string> = {};
  for (const s of specs) if (s.default !== undefined) d[s.name] = s.default;
  return d;
}

/** Help text of a command. */
export function helpText(cmd: Command): string {
  const width = Math.max(...cmd.options.map((o) => o.name.length + (o.type === "string" ? 8 : 0)), 6) + 4;
  const lines = [`sparsectr ${cmd.name}: ${cmd.summary}`, "", "Usage:", ...cmd.usage.split("\n").map((u) => `  sparsectr ${u}`), "", "Options:"];
  for (const o of cmd.options) {
    const left = `--${o.name}${o.type === "string" ? " VALUE" : ""}`;
    const def = o.default ?? o.defaultHelp;
    lines.push(`  ${left.padEnd(width)}${o.help}${def !== undefined ? ` (default ${def})` : ""}`);
  }
  lines.push(`  ${"--help".padEnd(width)}this text`);
  return lines.join("\n");
}

/**
 * A string option (the last value of an option given several times); when
 * absent, the fallback given for a computed default, else the option's own
 * default, else undefined.
 */
export function str(a: ParsedArgs, name: string, fallback?: string): string | undefined {
  const v = a.values[name];
  if (Array.isArray(v)) return v[v.length - 1];
  return typeof v === "string" ? v : fallback ?? a.defaults[name];
}

/** Every value of an option that may be given several times ([] when absent). */
export function list(a: ParsedArgs, name: string): string[] {
  const v = a.values[name];
  return Array.isArray(v) ? v : typeof v === "string" ? [v] : [];
}

/**
 * A numeric option checked to be finite (and integral when asked); when
 * absent, its default (OptionSpec.default). Use it on an absent option
 * without a default only behind a check that it was given.
 */
export function num(a: ParsedArgs, name: string, integer = false): number {
  return numOf(name, a.values[name] ?? a.defaults[name], integer);
}

/** A numeric option, or, when absent, a computed fallback (a preset's value, say). */
export function numOr(a: ParsedArgs, name: string, fallback: number, integer = false): number {
  const v = a.values[name];
  return v === undefined ? fallback : numOf(name, v, integer);
}

function numOf(name: string, v: string | true | string[] | undefined, integer: boolean): number {
  if (v === undefined) throw new Error(`internal: option --${name} has no value and no default`);
  const n = Number(v);
  if (typeof v !== "string" || v.trim() === "" || !Number.isFinite(n) || (integer && !Number.isSafeInteger(n))) {
    throw new UsageError(`option --${name} = ${String(v)} is not ${integer ? "an integer" : "a number"}`);
  }
  return n;
}

/** Option `name`'s value in bytes: "1000", "64K", "1.5G" (powers of 1024). */
export function bytes(a: ParsedArgs, name: string): number {
  const v = str(a, name) ?? "";
  const m = /^(\d+(?:\.\d+)?)([KMG]?)i?B?$/i.exec(v.trim());
  if (!m) throw new UsageError(`--${name} ${v}: give bytes, optionally with K, M or G`);
  const mult = { "": 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30 }[m[2].toUpperCase() as "" | "K" | "M" | "G"];
  return Math.floor(Number(m[1]) * mult);
}
