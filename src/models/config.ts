import { MODEL_PRESETS } from "./presets.js";
import type { ModelConfig, ModelName, ResolvedModelConfig } from "./types.js";

const KEYS = ["fields", "embedding", "hidden", "dropout", "crossLayers", "seed"] as const;

/**
 * Fills a configuration from the model's preset, checking every value: a
 * typed ModelConfig, or any object read from a file (each setting is
 * checked as an unknown value).
 */
export function resolveConfig(name: ModelName, config: ModelConfig | object): ResolvedModelConfig {
  if (config === null || typeof config !== "object") throw new TypeError(`${name}: config must be an object`);
  const preset: Partial<Record<string, unknown>> = MODEL_PRESETS[name];
  const accepted = [...Object.keys(preset), "seed"];
  const given = new Map(Object.entries(config).filter(([, v]) => v !== undefined));
  for (const k of given.keys()) {
    if (!(KEYS as readonly string[]).includes(k)) throw new RangeError(`${name}: unknown setting "${k}" (settings: ${accepted.join(", ")})`);
    if (!accepted.includes(k)) throw new RangeError(`${name}: setting "${k}" does not apply to this model (settings: ${accepted.join(", ")})`);
  }
  if (!given.has("fields")) throw new RangeError(`${name}: config.fields (the number of categorical fields of the data) is required`);
  const setting = (k: (typeof KEYS)[number]): unknown => (given.has(k) ? given.get(k) : preset[k]);
  const hidden: unknown = setting("hidden") ?? [];
  if (!Array.isArray(hidden)) throw new TypeError(`${name}: hidden must be an array of layer sizes`);
  const sizes = hidden.map((h: unknown, i) => positiveInt(name, `hidden[${i}]`, h));
  if ((name === "opnn" || name === "dcn") && sizes.length === 0) throw new RangeError(`${name}: needs at least one hidden layer`);
  const dropout = setting("dropout") ?? 0;
  if (typeof dropout !== "number" || !(dropout >= 0 && dropout < 1)) throw new RangeError(`${name}: dropout must be in [0, 1), got ${String(dropout)}`);
  const crossLayers = setting("crossLayers") ?? 0;
  if (typeof crossLayers !== "number" || !Number.isInteger(crossLayers) || crossLayers < 0) {
    throw new RangeError(`${name}: crossLayers must be a non-negative integer, got ${String(crossLayers)}`);
  }
  const seed = setting("seed") ?? 0;
  if (typeof seed !== "number" || !Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new RangeError(`${name}: seed must be an integer in [0, 2^32), got ${String(seed)}`);
  return Object.freeze({
    fields: positiveInt(name, "fields", setting("fields")),
    embedding: positiveInt(name, "embedding", setting("embedding") ?? 1),
    hidden: Object.freeze(sizes),
    dropout,
    crossLayers,
    seed,
  });
}

function positiveInt(name: string, what: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) throw new RangeError(`${name}: ${what} must be a positive integer, got ${String(v)}`);
  return v;
}
