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
  /** Default shown in help (values are returned as given). */
  default?: string;
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
  /** Option values by name (strings for "string", lists for "multiple", true for flags). */
  values: Record<string, string | true | string[]>;
  /** Arguments that are not options. */
  positional: string[];
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
  return { values, positional: parsed.positionals };
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

/** Help text of a command. */
export function helpText(cmd: Command): string {
  const width = Math.max(...cmd.options.map((o) => o.name.length + (o.type === "string" ? 8 : 0)), 6) + 4;
  const lines = [`sparsectr ${cmd.name}: ${cmd.summary}`, "", "Usage:", ...cmd.usage.split("\n").map((u) => `  sparsectr ${u}`), "", "Options:"];
  for (const o of cmd.options) {
    const left = `--${o.name}${o.type === "string" ? " VALUE" : ""}`;
    lines.push(`  ${left.padEnd(width)}${o.help}${o.default !== undefined ? ` (default ${o.default})` : ""}`);
  }
  lines.push(`  ${"--help".padEnd(width)}this text`);
  return lines.join("\n");
}

/** A string option, or the fallback (the last value of an option given several times). */
export function str(a: ParsedArgs, name: string, fallback?: string): string | undefined {
  const v = a.values[name];
  if (Array.isArray(v)) return v[v.length - 1];
  return typeof v === "string" ? v : fallback;
}

/** Every value of an option that may be given several times ([] when absent). */
export function list(a: ParsedArgs, name: string): string[] {
  const v = a.values[name];
  return Array.isArray(v) ? v : typeof v === "string" ? [v] : [];
}

/** A numeric option checked to be finite (and integral when asked), or the fallback. */
export function num(a: ParsedArgs, name: string, fallback: number, integer = false): number {
  const v = a.values[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (typeof v !== "string" || v.trim() === "" || !Number.isFinite(n) || (integer && !Number.isSafeInteger(n))) {
    throw new UsageError(`option --${name} = ${String(v)} is not ${integer ? "an integer" : "a number"}`);
  }
  return n;
}
