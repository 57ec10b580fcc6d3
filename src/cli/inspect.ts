import { openData, Vocabulary } from "../data/index.js";
import { bagFields } from "../nn/bag.js";
import { list, UsageError, type Command } from "./args.js";
import { READ_OPTIONS, readOptionsOf } from "./read-options.js";

/**
 * `sparsectr inspect`: reads a data file once and reports its format, rows,
 * clicks, fields and distinct values per field, and the malformed rows met.
 */
export const inspect: Command = {
  name: "inspect",
  summary: "read a data file once: format, rows, click rate, distinct values per field, bad rows",
  usage: "inspect --data FILE [--data FILE2 ...] [--format criteo|avazu|libsvm|csv] [--schema FILE] [--featindex FILE] [--skip-bad-rows] [--json]",
  options: [
    { name: "data", type: "string", multiple: true, help: "the file to read (plain or gzip); repeat it for several files, read in order" },
    ...READ_OPTIONS,
    { name: "json", type: "boolean", help: "print one JSON object instead of text" },
  ],
  async run(a) {
    const data = list(a, "data");
    if (!data.length) throw new UsageError("--data FILE is required");
    if (a.positional.length) throw new UsageError(`unexpected argument "${a.positional[0]}"`);
    const file = await openData(data, { ...readOptionsOf(a), batchSize: 4096 });
    const F = file.fields.length;
    const voc = new Vocabulary({ fields: Math.max(F, 1) });
    const distinct = new Array<number>(F).fill(0);
    let rows = 0, clicks = 0;
    let ids = new Uint32Array(4096 * Math.max(F, 1));
    for await (const b of file.batches()) {
      rows += b.rows;
      for (let r = 0; r < b.rows; r++) clicks += b.labels[r];
      const before = voc.size, n = b.keys.length;
      if (ids.length < n) ids = new Uint32Array(n);
      voc.encode(b.keyWords, n, ids);
      const field = b.bags ? bagFields(b.bags.offsets, F) : undefined;
      // Ids are handed out in order of first sight: a key is new exactly when
      // its id is the next one not yet met.
      let next = before;
      for (let j = 0; j < n && next < voc.size; j++) if (ids[j] === next) { distinct[field ? field[j] : j % F]++; next++; }
    }
    const st = file.stats;
    const report = {
      file: data.length === 1 ? data[0] : data, format: file.format, rows, clicks, click_rate: rows ? clicks / rows : 0,
      fields: Object.fromEntries(file.fields.map((f, i) => [f, distinct[i]])), numeric_fields: file.numeric,
      distinct_features: voc.keys, skipped_rows: st.skipped, first_bad_rows: st.firstBad.map((e) => e.message),
    };
    if (a.values.json) {
      process.stdout.write(JSON.stringify(report) + "\n");
      return 0;
    }
    const lines = [
      `${data.join(", ")}: ${file.format}, ${rows} rows, ${clicks} clicks (click rate ${(report.click_rate * 100).toFixed(3)}%)`,
      `${F} key fields, ${voc.keys} distinct features${file.numeric.length ? `, numeric fields: ${file.numeric.join(", ")}` : ""}`,
      ...file.fields.map((f, i) => `  ${f.padEnd(20)} ${distinct[i]} values`),
    ];
    if (st.skipped) lines.push(`skipped ${st.skipped} malformed rows; the first:`, ...st.firstBad.map((e) => `  ${e.message}`));
    process.stdout.write(lines.join("\n") + "\n");
    return 0;
  },
};
