import type { DataFile, ReadOptions } from "../data/index.js";
import type { InputSpec } from "../data/input-spec.js";

/** The input description stored in a model file, from the file it was trained on. */
export function inputSpec(file: DataFile, opts: ReadOptions): InputSpec {
  // The schema the file was read with (for csv: as given, or inferred from --label-column).
  return { format: file.format, fields: file.fields, schema: file.schema ?? opts.schema, featindex: opts.featindex };
}
