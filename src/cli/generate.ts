/**
 * `sparsectr generate`: synthetic CTR data with a known ground truth.
 */
import { num, numOr, str, UsageError, type Command, type ParsedArgs } from "./args.js";
import { createGenerator } from "../data/synth/generator.js";
import { synthConfig } from "../data/synth/config.js";
import { PRESETS } from "../data/synth/presets.js";
import { FORMATS } from "../data/synth/formats.js";
import { generateFiles } from "../data/synth/stream.js";
import type { SynthFormat } from "../data/synth/types.js";

const presetNames = Object.keys(PRESETS);

export const generate: Command = {
  name: "generate",
  summary: "write synthetic CTR data (Criteo, Avazu, iPinYou shapes) with its ground truth",
  usage: [
    "generate --rows N --out FILE [--preset criteo|avazu|ipinyou] [--format criteo|avazu|libsvm|csv] [options]",
    "generate --preset avazu --rows 100000 --start-row 2000000 --out test.csv   (continues rows 0..1999999)",
  ].join("\n"),
  options: [
    { name: "preset", type: "string", help: `dataset shape: ${presetNames.join(", ")}`, default: "criteo" },
    { name: "format", type: "string", help: `output format: ${FORMATS.join(", ")}`, defaultHelp: "the preset's own" },
    { name: "rows", type: "string", help: "number of rows to write (required)" },
    { name: "start-row", type: "string", help: "index of the first row: rows K..K+N-1 of the seed's stream", default: "0" },
    { name: "seed", type: "string", help: "seed (non-negative integer): same seed, same bytes", default: "1" },
    { name: "scale", type: "string", help: "multiplies categorical vocabulary sizes", default: "1" },
    { name: "click-rate", type: "string", help: "mean click probability", defaultHelp: "the preset's" },
    { name: "informative", type: "string", help: "informative fields: a count, or comma-separated field names", defaultHelp: "the preset's" },
    { name: "linear-share", type: "string", help: "share of the teacher's logit variance in first-order terms, the rest in field pairs (1: no pairs)", default: "0.6" },
    { name: "informative-ranks", type: "string", help: "candidate informative values per field: ranks below this", default: "1000" },
    { name: "day", type: "string", help: "day of a drifting stream: on each day 1..N a share --churn of each categorical field's values is replaced by new ones, and what is informative moves with them (0: no drift; not with libsvm)", default: "0" },
    { name: "churn", type: "string", help: "with --day: share of the values replaced each day", default: "0.1" },
    { name: "rows-per-hour", type: "string", help: "rows per hour of the Avazu hour column", defaultHelp: "the preset's" },
    { name: "out", type: "string", help: "output file; .gz compresses; - writes to stdout (required)" },
    { name: "featindex", type: "string", help: "libsvm feature dictionary path", defaultHelp: "<out>.featindex" },
    { name: "no-featindex", type: "boolean", help: "libsvm: do not write the feature dictionary" },
    { name: "truth", type: "string", help: "base path of <base>.truth.json and <base>.prob", defaultHelp: "<out>" },
    { name: "no-truth", type: "boolean", help: "do not write the truth and probability files" },
    { name: "gzip-level", type: "string", help: "gzip compression level 1-9 for a .gz output", default: "6" },
  ],
  run,
};

async function run(a: ParsedArgs): Promise<number> {
  if (a.positional.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(a.positional[0])}`);
  const presetName = str(a, "preset")!;
  const preset = PRESETS[presetName];
  if (!preset) throw new UsageError(`option --preset = ${presetName} is not one of ${presetNames.join(", ")}`);
  const format = str(a, "format", preset.format) as SynthFormat;
  if (!FORMATS.includes(format)) throw new UsageError(`option --format = ${format} is not one of ${FORMATS.join(", ")}`);
  if (a.values.rows === undefined) throw new UsageError("option --rows is required");
  const rows = num(a, "rows", true);
  if (rows < 1) throw new UsageError(`option --rows = ${rows} must be at least 1`);
  const start = num(a, "start-row", true);
  if (start < 0) throw new UsageError(`option --start-row = ${start} must be non-negative`);
  if (start + rows > 2 ** 53) throw new UsageError("options --start-row + --rows must stay below 2^53");
  const seed = num(a, "seed", true);
  if (seed < 0) throw new UsageError(`option --seed = ${seed} must be non-negative`);
  const scale = num(a, "scale");
  if (!(scale > 0)) throw new UsageError(`option --scale = ${scale} must be positive`);
  const clickRate = numOr(a, "click-rate", preset.clickRate);
  if (!(clickRate > 0 && clickRate < 1)) throw new UsageError(`option --click-rate = ${clickRate} must be in (0, 1)`);
  const rowsPerHour = numOr(a, "rows-per-hour", preset.rowsPerHour, true);
  if (rowsPerHour < 1) throw new UsageError(`option --rows-per-hour = ${rowsPerHour} must be at least 1`);
  const gzipLevel = num(a, "gzip-level", true);
  if (gzipLevel < 1 || gzipLevel > 9) throw new UsageError(`option --gzip-level = ${gzipLevel} must be 1 to 9`);
  const out = str(a, "out");
  if (out === undefined || out === "") throw new UsageError("option --out is required (a file, or - for stdout)");
  if (a.values["featindex"] !== undefined && a.values["no-featindex"]) throw new UsageError("options --featindex and --no-featindex exclude each other");
  if (a.values["truth"] !== undefined && a.values["no-truth"]) throw new UsageError("options --truth and --no-truth exclude each other");

  let informative: number | string[] | undefined;
  const inf = str(a, "informative");
  if (inf !== undefined) informative = /^\d+$/.test(inf) ? Number(inf) : inf.split(",").map((s) => s.trim()).filter((s) => s !== "");
  let config;
  try {
    const teacher: Record<string, number> = {};
    if (a.values["linear-share"] !== undefined) teacher.linearShare = num(a, "linear-share");
    if (a.values["informative-ranks"] !== undefined) teacher.informativeRanks = num(a, "informative-ranks", true);
    const day = num(a, "day", true), churn = num(a, "churn");
    if (day < 0) throw new UsageError(`option --day = ${day} must be >= 0`);
    if (!(churn >= 0 && churn <= 1)) throw new UsageError(`option --churn = ${churn} must be in [0, 1]`);
    config = synthConfig({ preset: presetName, seed, scale, clickRate, informative, rowsPerHour, teacher, drift: { day, churn } });
  } catch (e) {
    const msg = (e as Error).message;
    if (inf !== undefined && msg.startsWith("informative")) throw new UsageError(`option --${msg}`);
    if (msg.startsWith("teacher") || msg.startsWith("drift")) throw new UsageError(`option ${msg}`);
    throw e;
  }

  const gen = createGenerator(config);
  const summary = await generateFiles(gen, {
    format, start, rows, out, gzipLevel,
    truth: a.values["no-truth"] ? null : str(a, "truth"),
    featindex: a.values["no-featindex"] ? null : str(a, "featindex"),
  });
  const rate = Math.round(rows / Math.max(summary.seconds, 1e-9));
  const t = summary.truth;
  const quality = t
    ? `; click rate ${t.achieved.clickRate.toFixed(4)} (target ${config.clickRate}), Bayes AUC ${t.bayes.auc?.toFixed(4) ?? "n/a"}, logloss ${t.bayes.logloss.toFixed(4)}`
    : "";
  process.stderr.write(
    `sparsectr generate: ${rows} ${presetName} rows ${start}..${start + rows - 1} as ${format} in ${summary.seconds.toFixed(1)} s (${rate} rows/s)${quality}\n`,
  );
  return 0;
}
