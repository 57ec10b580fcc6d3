import type { Command } from "./args.js";
import { inspect } from "./inspect.js";
import { generate } from "./generate.js";
import { train } from "./train.js";
import { demo } from "./demo.js";
import { predict, evaluate, exportCmd } from "./serve.js";
import { serveHttp } from "./serve-http.js";
import { experiment } from "./experiment.js";
import { tune } from "./tune.js";
import { plot } from "./plot.js";

/** Every command of the `sparsectr` tool, in the order --help lists them. */
export const COMMANDS: Command[] = [demo, train, evaluate, predict, exportCmd, serveHttp, generate, inspect, plot, experiment, tune];
