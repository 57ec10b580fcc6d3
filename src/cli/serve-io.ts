import type { DataFile, ReadOptions } from "../data/index.js";
import type { InputSpec } from "../serve/model-file.js";

/** The input description stored in a model file, from the file it was trained on. */
export function inputSpec(file: DataFile, opts: ReadOptions): InputSpec {
  return { format: file.format, fields: file.fields, schema: opts.schema, featindex: opts.featindex };
}
