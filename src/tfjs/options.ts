import type { serialization } from "@tensorflow/tfjs-core";
import { resolveHyperparams, type Hyperparams, type L21Norm, type ResolvedHyperparams } from "../optim/hyper.js";
import type { VectorGroups } from "./groups.js";

type ConfigDict = serialization.ConfigDict;

/**
 * Which variables get the l1, l21 and l2 penalties: an array of variable
 * names, a RegExp tested against the name, or a predicate on the name. The
 * others are stepped by the plain rule of the family (the same optimizer with
 * every regulariser at 0). Unset: every variable.
 */
export type RegularizeFilter = readonly string[] | RegExp | ((variableName: string) => boolean);

/** Options every group optimizer takes; names and defaults as sparsectr's `createOptimizer`. */
export interface GroupOptionsBase {
  /** Step size alpha. */
  lr?: number;
  /** l1 strength: penalty l1 ||x||_1. */
  l1?: number;
  /** Group lasso strength: penalty l21 sqrt(d) ||x^g||_2 per group of d entries. */
  l21?: number;
  /** l2 strength: penalty l2 ||x||_2^2, so it enters the update as 2 l2 (TensorFlow's FTRL convention). */
  l2?: number;
  /** Norm the l21 threshold is compared with: `"raw"` (the paper's Algorithm 1), `"scaled"` (the exact minimiser of Eq. 6) or `"eq10"`. */
  l21Norm?: L21Norm;
  /** The variables that are regularised (default: all). */
  regularize?: RegularizeFilter;
  /** 1-D variables: one group per element (default) or one group per vector. */
  vectors?: VectorGroups;
}

/** Options of `GroupSGD` (step alpha / sqrt(t), the paper's Table 1). */
export type GroupSGDOptions = GroupOptionsBase;

/** Options of `GroupMomentum`. */
export interface GroupMomentumOptions extends GroupOptionsBase {
  /** gamma of m_t = gamma m_{t-1} + g_t (default 0.9; 0 gives constant-step SGD). */
  momentum?: number;
}

/** Options of `GroupAdagrad` (`SparseGroupFtrl`). */
export interface GroupAdagradOptions extends GroupOptionsBase {
  /** Added to V_0, inside the square root (default 1e-10). */
  epsilon?: number;
  /** Added to V_0 too: TensorFlow's `initial_accumulator_value` (default 0). */
  initialAccumulator?: number;
}

/** Options of `GroupAdam` and `GroupAMSGrad`. */
export interface GroupAdamOptions extends GroupOptionsBase {
  beta1?: number;
  beta2?: number;
  /** Added to sqrt(V_t) (default 1e-8, as PyTorch; tfjs's Adam uses 1e-7). */
  epsilon?: number;
}

/** Options of `GroupAMSGrad`. */
export type GroupAMSGradOptions = GroupAdamOptions;

/** The moment rule of an optimizer class. */
export type Family = "sgd" | "momentum" | "adagrad" | "adam" | "amsgrad";

/** Hyperparameters each family reads besides lr, l1, l21, l2 and l21Norm. */
const RULE_KEYS: Record<Family, readonly (keyof Hyperparams)[]> = {
  sgd: [],
  momentum: ["momentum"],
  adagrad: ["epsilon", "initialAccumulator"],
  adam: ["beta1", "beta2", "epsilon"],
  amsgrad: ["beta1", "beta2", "epsilon"],
};
const COMMON_KEYS: readonly (keyof Hyperparams)[] = ["lr", "l1", "l21", "l2", "l21Norm"];

/** Checked options of one optimizer. */
export interface Settings {
  /** sparsectr's resolved hyperparameters of `group-<family>` (defaults filled in). */
  readonly hyper: Readonly<ResolvedHyperparams>;
  readonly vectors: VectorGroups;
  /** Undefined: every variable is regularised. */
  readonly regularize: RegularizeFilter | undefined;
}

/** Checks the options of class `cls` through sparsectr's own hyperparameter checks. */
export function resolveSettings(family: Family, cls: string, options: object): Settings {
  if (options === null || typeof options !== "object") throw new TypeError(`${cls}: options must be an object`);
  const keys = [...COMMON_KEYS, ...RULE_KEYS[family]];
  const hyper: Record<string, unknown> = {};
  const o = options as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (o[k] === undefined || k === "regularize" || k === "vectors") continue;
    if (!(keys as readonly string[]).includes(k)) {
      throw new TypeError(`${cls}: unknown option "${k}" (known: ${[...keys, "regularize", "vectors"].join(", ")})`);
    }
    hyper[k] = o[k];
  }
  const vectors = o.vectors ?? "elements";
  if (vectors !== "elements" && vectors !== "group") {
    throw new RangeError(`${cls}: vectors = ${JSON.stringify(vectors)} is invalid: use "elements" or "group"`);
  }
  const r = o.regularize;
  const okFilter = r === undefined || r instanceof RegExp || typeof r === "function" ||
    (Array.isArray(r) && r.every((n) => typeof n === "string"));
  if (!okFilter) throw new TypeError(`${cls}: regularize must be an array of variable names, a RegExp or a function of the name`);
  return {
    hyper: Object.freeze(resolveHyperparams(`group-${family}`, hyper as Hyperparams)),
    vectors,
    // An array is copied so that later changes to the caller's array do not change the optimizer.
    regularize: Array.isArray(r) ? Object.freeze([...(r as string[])]) : (r as RegularizeFilter | undefined),
  };
}

/** True when the variable `name` gets the regularisers. */
export function isRegularized(s: Settings, name: string): boolean {
  const r = s.regularize;
  if (r === undefined) return true;
  if (typeof r === "function") return r(name);
  if (r instanceof RegExp) {
    r.lastIndex = 0; // a /g or /y RegExp would otherwise remember the previous match
    return r.test(name);
  }
  return (r as readonly string[]).includes(name);
}

// tfjs-layers passes a saved optimizer config through its Python-to-TS
// converter, which camel-cases every string value containing "_" (so
// "dense_Dense1/kernel" would come back as "denseDense1/kernel"). Variable
// names and patterns are therefore stored with "_" and "%" percent-escaped.
function escape(s: string): string {
  return s.replace(/[%_]/g, (c) => (c === "%" ? "%25" : "%5F"));
}
function unescape(s: string): string {
  return s.replace(/%(25|5F)/g, (_m, h: string) => (h === "25" ? "%" : "_"));
}

/** The serializable config: resolved hyperparameters of the family, vectors and the filter. */
export function settingsToConfig(family: Family, cls: string, s: Settings): ConfigDict {
  const c: ConfigDict = {};
  for (const k of [...COMMON_KEYS, ...RULE_KEYS[family]]) c[k] = s.hyper[k];
  c.vectors = s.vectors;
  const r = s.regularize;
  if (typeof r === "function") {
    throw new TypeError(`${cls}.getConfig: a regularize predicate cannot be serialized; pass an array of variable names or a RegExp`);
  }
  if (r instanceof RegExp) c.regularize = { pattern: escape(r.source), flags: r.flags };
  else if (r !== undefined) c.regularize = r.map(escape);
  return c;
}

/** The options a config of `settingsToConfig` stands for. */
export function configToOptions(config: ConfigDict): Record<string, unknown> {
  const { regularize: r, ...rest } = config;
  const out: Record<string, unknown> = { ...rest };
  if (Array.isArray(r)) out.regularize = r.map((n) => unescape(String(n)));
  else if (r !== null && typeof r === "object") out.regularize = new RegExp(unescape(String(r.pattern)), String(r.flags ?? ""));
  else if (r !== undefined && r !== null) throw new TypeError(`config.regularize must be an array of names or { pattern, flags }`);
  return out;
}
