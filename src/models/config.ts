import { MODEL_PRESETS } from "./presets.js";
import type { ModelConfig, ModelName, ResolvedModelConfig } from "./types.js";

const KEYS = ["fields", "embedding", "hidden", "dropout", "crossLayers", "seed"] as const;

/** Fills a configuration from the model's preset, checking every value. */
export function resolveConfig(name: ModelName, config: ModelConfig): ResolvedModelConfig {
  if (config === null || typeof config !== "object") throw new TypeError(`${name}: config must be an object`);
  const preset = MODEL_PRESETS[name];
  const accepted = [...Object.keys(preset), "seed"];
  for (const [k, v] of Object.entries(config)) {
    if (v === undefined) continue;
    if (!(KEYS as readonly string[]).includes(k)) throw new RangeError(`${name}: unknown setting "${k}" (settings: ${accepted.join(", ")})`);
    if (!accepted.includes(k)) throw new RangeError(`${name}: setting "${k}" does not apply to this model (settings: ${accepted.join(", ")})`);
  }
  if (config.fields === undefined) throw new RangeError(`${name}: config.fields (the number of categorical fields of the data) is required`);
  const c = { ...preset, ...definedOnly(config) };
  const hidden = c.hidden ?? [];
  if (!Array.isArray(hidden)) throw new TypeError(`${name}: hidden must be an array of layer sizes`);
  hidden.forEach((h, i) => positiveInt(name, `hidden[${i}]`, h));
  if ((name === "opnn" || name === "dcn") && hidden.length === 0) throw new RangeError(`${name}: needs at least one hidden layer`);
  const dropout = c.dropout ?? 0;
  if (typeof dropout !== "number" || !(dropout >= 0 && dropout < 1)) throw new RangeError(`${name}: dropout must be in [0, 1), got ${dropout}`);
  const crossLayers = c.crossLayers ?? 0;
  if (!Number.isInteger(crossLayers) || crossLayers < 0) throw new RangeError(`${name}: crossLayers must be a non-negative integer, got ${crossLayers}`);
  const seed = c.seed ?? 0;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new RangeError(`${name}: seed must be an integer in [0, 2^32), got ${seed}`);
  return Object.freeze({
    fields: positiveInt(name, "fields", c.fields),
    embedding: positiveInt(name, "embedding", c.embedding ?? 1),
    hidden: Object.freeze(hidden.slice()),
    dropout,
    crossLayers,
    seed,
  });
}

function positiveInt(name: string, what: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) throw new RangeError(`${name}: ${what} must be a positive integer, got ${String(v)}`);
  return v;
}

function definedOnly(c: ModelConfig): Partial<ModelConfig> {
  return Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined));
}
