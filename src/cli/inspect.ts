import { openData, Vocabulary, type Format } from "../data/index.js";
import { str, UsageError, type Command } from "./args.js";

/**
 * `sparsectr inspect`: reads a data file once and reports its format, rows,
 * clicks, fields and distinct values per field, and the malformed rows met.
 */
export const inspect: Command = {
  name: "inspect",
  summary: "read a data file once: format, rows, click rate, distinct values per field, bad rows",
  usage: "inspect --data FILE [--format criteo|avazu|libsvm|csv] [--schema FILE] [--featindex FILE] [--skip-bad-rows] [--json]",
  options: [
    { name: "data", type: "string", help: "the file to read (plain or gzip)" },
    { name: "format", type: "string", help: "criteo, avazu, libsvm or csv (detected when unambiguous)" },
    { name: "schema", type: "string", help: "schema JSON for csv files" },
    { name: "featindex", type: "string", help: "libsvm feature dictionary (field:value<TAB>index)" },
    { name: "skip-bad-rows", type: "boolean", help: "skip and count malformed rows instead of stopping" },
    { name: "json", type: "boolean", help: "print one JSON object instead of text" },
  ],
  async run(a) {
    const data = str(a, "data");
    if (!data) throw new UsageError("--data FILE is required");
    if (a.positional.length) throw new UsageError(`unexpected argument "${a.positional[0]}"`);
    const file = await openData(data, {
      format: str(a, "format") as Format | undefined,
      schema: str(a, "schema"),
      featindex: str(a, "featindex"),
      skipBadRows: a.values["skip-bad-rows"] === true,
      batchSize: 4096,
    });
    const F = file.fields.length;
    const voc = new Vocabulary({ fields: Math.max(F, 1) });
    const distinct = new Array<number>(F).fill(0);
    let rows = 0, clicks = 0;
    const ids = new Uint32Array(4096 * Math.max(F, 1));
    for await (const b of file.batches()) {
      rows += b.rows;
      for (let r = 0; r < b.rows; r++) clicks += b.labels[r];
      const before = voc.size;
      voc.encode(b.keyWords, b.rows * F, ids);
      // Ids are handed out in order of first sight: a key is new exactly when
      // its id is the next one not yet met.
      let next = before;
      for (let j = 0; j < b.rows * F && next < voc.size; j++) if (ids[j] === next) { distinct[j % F]++; next++; }
    }
    const st = file.stats;
    const report = {
      file: data, format: file.format, rows, clicks, click_rate: rows ? clicks / rows : 0,
      fields: Object.fromEntries(file.fields.map((f, i) => [f, distinct[i]])), numeric_fields: file.numeric,
      distinct_features: voc.keys, skipped_rows: st.skipped, first_bad_rows: st.firstBad.map((e) => e.message),
    };
    if (a.values.json) {
      process.stdout.write(JSON.stringify(report) + "\n");
      return 0;
    }
    const lines = [
      `${data}: ${file.format}, ${rows} rows, ${clicks} clicks (click rate ${(report.click_rate * 100).toFixed(3)}%)`,
      `${F} key fields, ${voc.keys} distinct features${file.numeric.length ? `, numeric fields: ${file.numeric.join(", ")}` : ""}`,
      ...file.fields.map((f, i) => `  ${f.padEnd(20)} ${distinct[i]} values`),
    ];
    if (st.skipped) lines.push(`skipped ${st.skipped} malformed rows; the first:`, ...st.firstBad.map((e) => `  ${e.message}`));
    process.stdout.write(lines.join("\n") + "\n");
    return 0;
  },
};
