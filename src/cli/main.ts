#!/usr/bin/env node
/**
 * The `sparsectr` command: `sparsectr <command> [options]`, `--help` on each.
 */
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { helpText, parseArgs, UsageError, type Command } from "./args.js";
import { COMMANDS } from "./commands.js";

function topHelp(): string {
  const w = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return [
    "sparsectr: CTR models made sparse while they train",
    "",
    "Usage: sparsectr <command> [options]",
    "",
    "Commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(w)}${c.summary}`),
    "",
    "Run `sparsectr <command> --help` for a command's options.",
  ].join("\n");
}

export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(topHelp() + "\n");
    return name === undefined ? 2 : 0;
  }
  const cmd: Command | undefined = COMMANDS.find((c) => c.name === name);
  if (!cmd) {
    process.stderr.write(`sparsectr: unknown command "${name}"\n\n${topHelp()}\n`);
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(helpText(cmd) + "\n");
    return 0;
  }
  try {
    return await cmd.run(parseArgs(rest, cmd.options));
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`sparsectr ${cmd.name}: ${e.message}\n`);
      return 2;
    }
    // Expected failures (bad input files, invalid settings) are Errors with a
    // clear message: print it alone; SPARSECTR_DEBUG=1 shows the stack.
    const err = e as Error;
    process.stderr.write(`sparsectr ${cmd.name}: ${process.env.SPARSECTR_DEBUG ? err.stack : err.message}\n`);
    return 1;
  }
}

function isMain(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isMain()) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
