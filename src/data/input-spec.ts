/**
 * How a trained model's inputs are read (InputSpec: format, field names, the
 * csv schema or libsvm featindex used in training), as a model file and a
 * checkpoint store it, and its checked reading from a stored header.
 */
import { isFormat, FORMATS, type Format } from "./detect.js";

/** How a model's input files are read (the keys are hashed from field and value). */
export interface InputSpec {
  format: Format;
  fields: readonly string[];
  /** csv schema or libsvm featindex path used in training, for reference. */
  schema?: unknown;
  featindex?: string;
}

/** A stored InputSpec (a header's "input"), checked: a format the readers know and the field names; errors name `what`. */
export function readInputSpec(o: unknown, what: string): InputSpec {
  if (o === null || typeof o !== "object" || Array.isArray(o)) throw new RangeError(`${what}: header field "input" is not an object`);
  const spec = new Map(Object.entries(o));
  const format = spec.get("format"), fields = spec.get("fields"), featindex = spec.get("featindex");
  if (!isFormat(format)) throw new RangeError(`${what}: input format ${format === undefined ? "missing" : JSON.stringify(format).slice(0, 80)} is not one of ${FORMATS.join(", ")}`);
  if (!Array.isArray(fields) || fields.length === 0 || !fields.every((f): f is string => typeof f === "string")) throw new RangeError(`${what}: input fields is not a list of field names`);
  if (featindex !== undefined && typeof featindex !== "string") throw new RangeError(`${what}: input featindex is not a path`);
  return { format, fields, ...(spec.has("schema") ? { schema: spec.get("schema") } : {}), ...(featindex !== undefined ? { featindex } : {}) };
}
