/**
 * `sparsectr plot DIR`: redraws a run's curves (DIR/curves.svg and
 * DIR/curves.png) from DIR/metrics.jsonl, also while the run is writing it.
 */
import { str, UsageError, type Command } from "./args.js";
import { writeCurves } from "../experiments/curves.js";

export const plot: Command = {
  name: "plot",
  summary: "redraw a run's curves (AUC, log loss, feature rate against rows) from DIR/metrics.jsonl",
  usage: "plot DIR [--title TEXT] [--json]",
  options: [
    { name: "title", type: "string", help: "a line of text under the figure" },
    { name: "json", type: "boolean", help: "print one JSON object instead of text" },
  ],
  async run(a) {
    const [dir, extra] = a.positional;
    if (dir === undefined) throw new UsageError("the run folder DIR is required (the --out folder of `sparsectr train`)");
    if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`);
    const r = await writeCurves(dir, str(a, "title"));
    if (a.values.json) {
      process.stdout.write(JSON.stringify(r) + "\n");
      return 0;
    }
    process.stdout.write(`${r.svg}\n${r.png}\n${r.evaluations} evaluation${r.evaluations === 1 ? "" : "s"}, ${r.progress} progress line${r.progress === 1 ? "" : "s"}\n`);
    return 0;
  },
};
