import type { Command } from "./args.js";
import { inspect } from "./inspect.js";

/** Every command of the `sparsectr` tool, in the order --help lists them. */
export const COMMANDS: Command[] = [inspect];
