import type { Command } from "./args.js";

/** Every command of the `sparsectr` tool, in the order --help lists them. */
export const COMMANDS: Command[] = [];
