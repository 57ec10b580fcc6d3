/**
 * A small, strict command-line parser: `--name value`, `--name=value` and
 * boolean `--flag`. Unknown options and missing values are errors that name
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
  /** Option values by name (strings for "string", true for flags). */
  values: Record<string, string | true>;
  /** Arguments that are not options. */
  positional: string[];
}

/** Raised for command-line mistakes: printed without a stack trace, exit code 2. */
export class UsageError extends Error {}

export function parseArgs(argv: readonly string[], specs: readonly OptionSpec[]): ParsedArgs {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const values: Record<string, string | true> = {};
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") { positional.push(...argv.slice(i + 1)); break; }
    if (!a.startsWith("--")) { positional.push(a); continue; }
    const eq = a.indexOf("=");
    const name = a.slice(2, eq < 0 ? undefined : eq);
    const spec = byName.get(name);
    if (!spec) throw new UsageError(`unknown option --${name} (see --help)`);
    if (spec.type === "boolean") {
      if (eq >= 0) throw new UsageError(`option --${name} is a flag and takes no value`);
      values[name] = true;
      continue;
    }
    let v: string | undefined;
    if (eq >= 0) v = a.slice(eq + 1);
    else if (i + 1 < argv.length && !argv[i + 1].startsWith("--")) v = argv[++i];
    if (v === undefined) throw new UsageError(`option --${name} needs a value`);
    values[name] = v;
  }
  return { values, positional };
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

/** A string option, or the fallback. */
export function str(a: ParsedArgs, name: string, fallback?: string): string | undefined {
  const v = a.values[name];
  return typeof v === "string" ? v : fallback;
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
