/**
 * The serving commands: `predict` (scores, one line per row), `eval` (AUC and
 * log loss) and `export` (the serving file of a run folder). `--data -` reads
 * standard input in one streaming pass; `predict --out -` writes standard output.
 */
import { createWriteStream } from "node:fs";
import { once } from "node:events";
import { openData, type Format, type ReadOptions } from "../data/index.js";
import { isStdin, STDIN_NAME } from "../data/stdin.js";
import { AucAccumulator, LoglossAccumulator } from "../metrics/index.js";
import { Predictor, exportModel } from "../serve/model-file.js";
import { readInputSpec } from "../data/input-spec.js";
import { restoreModel } from "../train/checkpoint.js";
import { str, UsageError, type Command, type ParsedArgs } from "./args.js";
import { READ_OPTIONS, readOptionsOf } from "./read-options.js";

const INPUT_OPTIONS = [
  { name: "model", type: "string" as const, help: "model file (model.sparsectr, from train --out or export)" },
  { name: "data", type: "string" as const, help: "file to score, in the training format (plain or gzip); - reads standard input (plain or gzip) in one streaming pass, nothing spooled" },
  { name: "format", type: "string" as const, help: "override the model's input format" },
  { name: "schema", type: "string" as const, help: "override the csv schema" },
  { name: "featindex", type: "string" as const, help: "override the libsvm featindex" },
  ...READ_OPTIONS.filter((o) => o.name === "skip-bad-rows" || o.name === "max-bad-rows"),
];

async function open(a: ParsedArgs): Promise<{ p: Predictor; file: Awaited<ReturnType<typeof openData>> }> {
  if (a.positional.length) throw new UsageError(`unexpected argument "${a.positional[0]}"`);
  const modelPath = str(a, "model"), data = str(a, "data");
  if (!modelPath) throw new UsageError("--model FILE is required");
  if (!data) throw new UsageError("--data FILE is required");
  const p = Predictor.load(modelPath);
  const ro = readOptionsOf(a);
  const file = await openData(data, {
    format: (ro.format ?? p.input.format) as Format,
    schema: ro.schema ?? (p.input.schema as ReadOptions["schema"]),
    featindex: ro.featindex ?? p.input.featindex,
    skipBadRows: ro.skipBadRows, maxBadRows: ro.maxBadRows,
    batchSize: 4096,
  });
  if (file.fields.join(",") !== p.input.fields.join(",")) {
    throw new Error(`${isStdin(data) ? STDIN_NAME : data}: its fields (${file.fields.length}) are not the model's (${p.input.fields.length}): ${file.fields.slice(0, 5).join(",")}... vs ${p.input.fields.slice(0, 5).join(",")}...`);
  }
  return { p, file };
}

/**
 * A reader of standard output that closes it early (`| head`) ends the
 * command: quietly, with exit code 0, as for any reader that has read enough.
 */
function quietOnClosedStdout(): void {
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(0);
    process.stderr.write(`sparsectr: standard output: ${e.message}\n`);
    process.exit(1);
  });
}

/** `sparsectr predict`: one click probability per row, streaming. */
export const predict: Command = {
  name: "predict",
  summary: "score a file with an exported model: one click probability per line",
  usage: "predict --model model.sparsectr --data FILE|- [--out scores.txt|-]",
  options: [...INPUT_OPTIONS, { name: "out", type: "string", help: "output file; - or none: standard output (then only the scores go there, messages to standard error)" }],
  async run(a) {
    const given = str(a, "out");
    const out = given === undefined || isStdin(given) ? undefined : given;
    if (!out) quietOnClosedStdout();
    const { p, file } = await open(a);
    const sink = out ? createWriteStream(out) : process.stdout;
    let scores = new Float64Array(0);
    for await (const b of file.batches()) {
      if (scores.length < b.rows) scores = new Float64Array(b.rows);
      p.predict(b, scores);
      let text = "";
      for (let i = 0; i < b.rows; i++) text += scores[i].toPrecision(9) + "\n";
      if (!sink.write(text)) await once(sink, "drain");
    }
    if (out) {
      (sink as ReturnType<typeof createWriteStream>).end();
      await once(sink, "finish");
    }
    if (file.stats.skipped) process.stderr.write(`skipped ${file.stats.skipped} malformed rows (no score written for them), the first: ${file.stats.firstBad[0].message}\n`);
    return 0;
  },
};

/** `sparsectr eval`: AUC and log loss of an exported model on a labelled file. */
export const evaluate: Command = {
  name: "eval",
  summary: "AUC and log loss of an exported model on a labelled file",
  usage: "eval --model model.sparsectr --data FILE|- [--json]",
  options: [...INPUT_OPTIONS, { name: "json", type: "boolean", help: "print one JSON object" }],
  async run(a) {
    quietOnClosedStdout();
    const { p, file } = await open(a);
    const auc = new AucAccumulator(), ll = new LoglossAccumulator();
    let scores = new Float64Array(0), rows = 0;
    for await (const b of file.batches()) {
      if (scores.length < b.rows) scores = new Float64Array(b.rows);
      p.predict(b, scores);
      for (let i = 0; i < b.rows; i++) { auc.add(scores[i], b.labels[i]); ll.add(scores[i], b.labels[i]); }
      rows += b.rows;
    }
    const rep = { rows, auc: auc.value(), logloss: ll.value(), features: p.features, modelBytes: p.bytes, skippedRows: file.stats.skipped };
    process.stdout.write(a.values.json ? JSON.stringify(rep) + "\n" : `AUC ${rep.auc.toFixed(4)}, log loss ${rep.logloss.toFixed(4)} on ${rows} rows (model: ${p.features} live features, ${p.bytes} bytes)\n`);
    return 0;
  },
};

/** `sparsectr export`: the serving file of a training output folder. */
export const exportCmd: Command = {
  name: "export",
  summary: "write the serving model (live rows only) of a training output folder",
  usage: "export --from DIR --out model.sparsectr",
  options: [
    { name: "from", type: "string", help: "folder written by train --out" },
    { name: "out", type: "string", help: "model file to write" },
  ],
  async run(a) {
    const from = str(a, "from"), out = str(a, "out");
    if (!from || !out) throw new UsageError("--from DIR and --out FILE are required");
    const { model, meta } = restoreModel(from);
    const n = exportModel(model, meta.input ?? readInputSpec({ format: meta.format, fields: meta.fields }, from), out);
    process.stdout.write(`wrote ${out}: ${n} bytes, ${model.liveFeatures} live features of ${model.features}\n`);
    return 0;
  },
};
