/**
 * Typed reading of an object parsed from JSON (a checkpoint's or a model
 * file's header): each getter checks one field and names it, with the file,
 * in its error, so that stored settings become typed values without casts.
 */

/**
 * One JSON object of a file, read field by field: `what` names the file,
 * `path` the object within it ("settings.hyper"; "" for the top), and every
 * error reads "what: path.key = value is not ...".
 */
export class JsonFields {
  private readonly map: Map<string, unknown>;

  constructor(value: unknown, readonly what: string, readonly path = "") {
    if (!isPlainObject(value)) throw new RangeError(`${what}: ${path || "the header"} is not an object`);
    this.map = new Map(Object.entries(value));
  }

  /** "what: path.key", for messages of a caller's own checks. */
  name(key?: string): string {
    return `${this.what}: ${[this.path, key].filter(Boolean).join(".")}`;
  }

  /** The names of the fields that are present (not undefined). */
  keys(): string[] {
    return [...this.map].filter(([, v]) => v !== undefined).map(([k]) => k);
  }

  has(key: string): boolean {
    return this.map.get(key) !== undefined;
  }

  /** The raw value (unknown), for a checker of its own. */
  raw(key: string): unknown {
    return this.map.get(key);
  }

  /** A nested object. */
  object(key: string): JsonFields {
    return new JsonFields(this.need(key, "an object"), this.what, this.path ? `${this.path}.${key}` : key);
  }

  optionalObject(key: string): JsonFields | undefined {
    return this.has(key) ? this.object(key) : undefined;
  }

  /** A finite number satisfying `ok` (described by `expected` in the error). */
  number(key: string, ok: (v: number) => boolean = () => true, expected = "a finite number"): number {
    const v = this.need(key, expected);
    if (typeof v !== "number" || !Number.isFinite(v) || !ok(v)) throw this.bad(key, v, expected);
    return v;
  }

  optionalNumber(key: string, ok?: (v: number) => boolean, expected?: string): number | undefined {
    return this.has(key) ? this.number(key, ok, expected) : undefined;
  }

  /** An integer in [min, max]. */
  integer(key: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    return this.number(key, (v) => Number.isSafeInteger(v) && v >= min && v <= max, `an integer in [${min}, ${max}]`);
  }

  optionalInteger(key: string, min?: number, max?: number): number | undefined {
    return this.has(key) ? this.integer(key, min, max) : undefined;
  }

  boolean(key: string): boolean {
    const v = this.need(key, "true or false");
    if (typeof v !== "boolean") throw this.bad(key, v, "true or false");
    return v;
  }

  string(key: string): string {
    const v = this.need(key, "a string");
    if (typeof v !== "string") throw this.bad(key, v, "a string");
    return v;
  }

  optionalString(key: string): string | undefined {
    return this.has(key) ? this.string(key) : undefined;
  }

  /** One of a list of string literals. */
  oneOf<T extends string>(key: string, values: readonly T[]): T {
    const v = this.need(key, `one of ${values.join(", ")}`);
    const hit = values.find((x) => x === v);
    if (hit === undefined) throw this.bad(key, v, `one of ${values.join(", ")}`);
    return hit;
  }

  optionalOneOf<T extends string>(key: string, values: readonly T[]): T | undefined {
    return this.has(key) ? this.oneOf(key, values) : undefined;
  }

  /** A list of strings. */
  strings(key: string): string[] {
    const v = this.need(key, "a list of strings");
    if (!Array.isArray(v) || !v.every((x): x is string => typeof x === "string")) throw this.bad(key, v, "a list of strings");
    return v;
  }

  /** A list of integers >= 0. */
  integers(key: string): number[] {
    const v = this.need(key, "a list of integers");
    if (!Array.isArray(v) || !v.every((x): x is number => Number.isSafeInteger(x) && x >= 0)) throw this.bad(key, v, "a list of integers >= 0");
    return v;
  }

  private need(key: string, expected: string): unknown {
    const v = this.map.get(key);
    if (v === undefined) throw new RangeError(`${this.name(key)} is missing (${expected})`);
    return v;
  }

  private bad(key: string, v: unknown, expected: string): RangeError {
    return new RangeError(`${this.name(key)} = ${JSON.stringify(v)?.slice(0, 120)} is not ${expected}`);
  }
}

function isPlainObject(v: unknown): v is object {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}
